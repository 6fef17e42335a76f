// The same workloads as weft's bench/ (see BENCHMARKS.md), on tokio 1.24 with 2 worker threads,
// built offline from Debian's crate sources (tools/bench-tokio). Median of repetitions,
// after two warm-up runs. (tokio-util 0.7.3's JoinMap does not compile against Debian's
// tokio 1.24 under --cfg tokio_unstable, so the JoinMap rows are not here.)
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::{StreamExt, StreamMap};
use tokio_stream::wrappers::UnboundedReceiverStream;

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn measure(name: &str, units: f64, reps: usize, mut f: impl FnMut()) {
    for _ in 0..2 { f(); } // warm-up
    let mut v: Vec<f64> = (0..reps).map(|_| { let t = Instant::now(); f(); t.elapsed().as_nanos() as f64 / units }).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{:<34} median {:>12.1} ns  spread {:.1}..{:.1}", name, v[v.len() / 2], v[0], v[v.len() - 1]);
}

fn main() {
    let reps = 15;
    let rt = rt();
    const N: usize = 10_000;
    measure("spawn_many_local (per task)", N as f64, reps, || {
        rt.block_on(async {
            let (tx, mut rx) = mpsc::channel::<()>(1);
            let rem = Arc::new(AtomicUsize::new(N));
            tokio::spawn(async move {
                for _ in 0..N {
                    let rem = rem.clone(); let tx = tx.clone();
                    tokio::spawn(async move { if rem.fetch_sub(1, Ordering::AcqRel) == 1 { tx.send(()).await.unwrap(); } });
                }
            });
            rx.recv().await.unwrap();
        });
    });
    measure("spawn_many_remote (per task)", N as f64, reps, || {
        let hs: Vec<_> = (0..N).map(|_| rt.spawn(async {})).collect();
        rt.block_on(async { for h in hs { h.await.unwrap(); } });
    });
    measure("yield_many (per yield)", 200.0 * 1000.0, reps, || {
        rt.block_on(async {
            let hs: Vec<_> = (0..200).map(|_| tokio::spawn(async { for _ in 0..1000 { tokio::task::yield_now().await; } })).collect();
            for h in hs { h.await.unwrap(); }
        });
    });
    measure("chained_spawn (per spawn)", 1000.0, reps, || {
        fn link(n: usize, tx: oneshot::Sender<()>) {
            if n == 0 { tx.send(()).unwrap(); } else { tokio::spawn(async move { link(n - 1, tx) }); }
        }
        rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            tokio::spawn(async move { link(1000, tx) });
            rx.await.unwrap();
        });
    });
    measure("ping_pong (per round trip)", 1000.0, reps, || {
        rt.block_on(async {
            let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
            let rem = Arc::new(AtomicUsize::new(1000));
            for _ in 0..1000 {
                let rem = rem.clone(); let done_tx = done_tx.clone();
                tokio::spawn(async move {
                    let (tx1, rx1) = oneshot::channel::<i32>();
                    let (tx2, rx2) = oneshot::channel::<i32>();
                    tokio::spawn(async move { let v = rx1.await.unwrap(); tx2.send(v + 1).unwrap(); });
                    tx1.send(1).unwrap();
                    rx2.await.unwrap();
                    if rem.fetch_sub(1, Ordering::AcqRel) == 1 { done_tx.send(()).await.unwrap(); }
                });
            }
            done_rx.recv().await.unwrap();
        });
    });
    for &n in &[16usize, 256, 4096] {
        let m = 20_000u64;
        let mut map = StreamMap::new();
        let mut txs = Vec::new();
        for k in 0..n { let (tx, rx) = mpsc::unbounded_channel::<u64>(); map.insert(k, UnboundedReceiverStream::new(rx)); txs.push(tx); }
        let tx = txs[n / 2].clone();
        let mut map = Some(map);
        measure(&format!("streammap_one_active N={} (per item)", n), m as f64, if n >= 4096 { 3 } else { 7 }, || {
            let mut mp = map.take().unwrap();
            let tx = tx.clone();
            mp = rt.block_on(async move {
                let p = tokio::spawn(async move { for i in 0..m { tx.send(i).unwrap(); if i % 64 == 63 { tokio::task::yield_now().await; } } });
                for i in 0..m { let (_k, v) = mp.next().await.unwrap(); assert_eq!(v, i); }
                p.await.unwrap();
                mp
            });
            map = Some(mp);
        });
    }
}
