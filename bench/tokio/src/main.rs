//! The twin of weft's bench/: every workload has the same name, the same spawn paths and
//! threads, the same shared state and the same timed span as its C++ counterpart (read
//! bench/common.hpp for the conventions). Usage:
//!   tokio-bench [--reps N] [--filter NAME,NAME,...] [--list]
//! prints one JSON object per timed repetition:
//!   {"name": ..., "real_ns": ..., "units": ..., "counters": {...}}
use futures_util::future::FutureExt;
use futures_util::stream::{self as fstream, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamMap;

#[cfg(feature = "mimalloc")]
mod mimalloc;

const WORKERS: usize = 2;

// ---- the harness ----

struct Harness {
    rt: Runtime,
    reps: usize,
    filter: Vec<String>,
    list: bool,
}

impl Harness {
    fn wants(&self, name: &str) -> bool {
        if self.list {
            println!("{}", name);
            return false;
        }
        self.filter.is_empty() || self.filter.iter().any(|f| f == name)
    }

    fn emit(name: &str, real_ns: f64, units: f64, counters: &[(&str, f64)]) {
        let c: Vec<String> = counters.iter().map(|(k, v)| format!("\"{}\": {}", k, v)).collect();
        println!(
            "{{\"name\": \"{}\", \"real_ns\": {}, \"units\": {}, \"counters\": {{{}}}}}",
            name,
            real_ns,
            units,
            c.join(", ")
        );
    }

    /// Two untimed runs, then `reps` timed runs of `once` (the main thread's call into the
    /// runtime and back).
    fn measure(&self, name: &str, units: f64, mut once: impl FnMut(&Runtime)) {
        if !self.wants(name) {
            return;
        }
        once(&self.rt);
        once(&self.rt);
        for _ in 0..self.reps {
            let t = Instant::now();
            once(&self.rt);
            Self::emit(name, t.elapsed().as_nanos() as f64, units, &[]);
        }
    }

    /// As measure, for workloads that time their own span inside the runtime (one warm-up).
    fn measure_manual(&self, name: &str, units: f64, mut once: impl FnMut(&Runtime) -> Duration) {
        if !self.wants(name) {
            return;
        }
        once(&self.rt);
        for _ in 0..self.reps {
            let d = once(&self.rt);
            Self::emit(name, d.as_nanos() as f64, units, &[]);
        }
    }

    /// For workloads that report counters (no warm-up: each run is long).
    fn measure_counters(&self, name: &str, mut once: impl FnMut(&Runtime) -> Vec<(&'static str, f64)>) {
        if !self.wants(name) {
            return;
        }
        for _ in 0..self.reps {
            let t = Instant::now();
            let mut c = once(&self.rt);
            let elapsed = t.elapsed().as_nanos() as f64;
            // A "units" counter is the row's unit count (as weft's state.counters["units"]).
            let units = c.iter().find(|(k, _)| *k == "units").map_or(1.0, |(_, v)| *v);
            c.retain(|(k, _)| *k != "units");
            Self::emit(name, elapsed, units, &c);
        }
    }
}

/// Runs `body` as a task on a worker, from the main thread (weft's block_on does the same:
/// it spawns its task onto the runtime and waits for it).
fn on_worker<T: Send + 'static>(rt: &Runtime, body: impl std::future::Future<Output = T> + Send + 'static) -> T {
    rt.block_on(async move { tokio::spawn(body).await.unwrap() })
}

/// A pointer to state that outlives every task using it (the C++ side passes a raw pointer
/// too, rather than cloning an Arc per task).
struct Ptr<T>(*const T);
impl<T> Clone for Ptr<T> {
    fn clone(&self) -> Self {
        Ptr(self.0)
    }
}
impl<T> Copy for Ptr<T> {}
unsafe impl<T: Sync> Send for Ptr<T> {}
impl<T> Ptr<T> {
    fn get(&self) -> &T {
        // SAFETY: the owner awaits every user before it drops the pointee.
        unsafe { &*self.0 }
    }
}

struct Countdown {
    remaining: AtomicI64,
    done: Notify,
}
impl Countdown {
    fn new(n: i64) -> Self {
        Countdown { remaining: AtomicI64::new(n), done: Notify::new() }
    }
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }
}

struct XorShift64(u64);
impl XorShift64 {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check(ok: bool) {
    assert!(ok, "benchmark: wrong result");
}

// ---- scheduler rows ----

fn scheduler(h: &Harness) {
    const N: i64 = 10_000;
    h.measure("spawn_many_local", N as f64, |rt| {
        on_worker(rt, async {
            let c = Countdown::new(N);
            let p = Ptr(&c as *const Countdown);
            for _ in 0..N {
                tokio::spawn(async move { p.get().count_down() });
            }
            c.done.notified().await;
        })
    });
    h.measure("spawn_many_remote", N as f64, |rt| {
        let mut hs = Vec::with_capacity(N as usize);
        for _ in 0..N {
            hs.push(rt.spawn(async {}));
        }
        on_worker(rt, async move {
            for h in hs {
                h.await.unwrap();
            }
        })
    });
    h.measure("yield_many", 200.0 * 1000.0, |rt| {
        on_worker(rt, async {
            let mut hs = Vec::with_capacity(200);
            for _ in 0..200 {
                hs.push(tokio::spawn(async {
                    for _ in 0..1000 {
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
        })
    });
    fn link(left: i32, done: Ptr<Notify>) {
        if left == 0 {
            done.get().notify_one();
        } else {
            tokio::spawn(async move { link(left - 1, done) });
        }
    }
    h.measure("chained_spawn", 1000.0, |rt| {
        on_worker(rt, async {
            let done = Notify::new();
            let p = Ptr(&done as *const Notify);
            tokio::spawn(async move { link(1000, p) });
            done.notified().await;
        })
    });
    h.measure("ping_pong", 1000.0, |rt| {
        on_worker(rt, async {
            let c = Countdown::new(1000);
            let p = Ptr(&c as *const Countdown);
            for _ in 0..1000 {
                tokio::spawn(async move {
                    let (tx1, rx1) = oneshot::channel::<i32>();
                    let (tx2, rx2) = oneshot::channel::<i32>();
                    tokio::spawn(async move {
                        let v = rx1.await.unwrap();
                        let _ = tx2.send(v + 1);
                    });
                    let _ = tx1.send(1);
                    let v = rx2.await.unwrap();
                    std::hint::black_box(v);
                    p.get().count_down();
                });
            }
            c.done.notified().await;
        })
    });
}

// ---- mpsc rows ----

/// One mpsc row: a consumer task and `p` producer tasks sending `per` messages each through
/// the channel `$make` creates, each send being `$send` (the same body for both channel
/// kinds, as the C++ side's template).
macro_rules! mpsc_row {
    ($h:expr, $name:expr, $p:expr, $per:expr, $make:expr, |$tx:ident, $i:ident| $send:expr) => {{
        let (p, per) = ($p, $per);
        $h.measure(&format!("{}/producers:{}", $name, p), (per * p) as f64, |rt| {
            on_worker(rt, async move {
                let (tx, mut rx) = $make;
                let consumer = tokio::spawn(async move {
                    let mut sum = 0i64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                let mut hs = Vec::new();
                for _ in 0..p {
                    let $tx = tx.clone();
                    hs.push(tokio::spawn(async move {
                        for $i in 0..per {
                            let _ = $send;
                        }
                    }));
                }
                drop(tx);
                for h in hs {
                    h.await.unwrap();
                }
                check(consumer.await.unwrap() == p * per * (per - 1) / 2);
            })
        });
    }};
}

fn mpsc_rows(h: &Harness) {
    const M: i64 = 100_000;
    for &p in &[1i64, 2, 8] {
        let per = M / p;
        mpsc_row!(h, "mpsc_unbounded", p, per, mpsc::unbounded_channel::<i64>(), |tx, i| tx.send(i));
        mpsc_row!(h, "mpsc_bounded", p, per, mpsc::channel::<i64>(1024), |tx, i| tx.send(i).await);
    }
}

// ---- JoinSet / JoinMap rows ----

const JOIN_N: u64 = 100_000;

fn joinset_rows(h: &Harness) {
    h.measure("joinset_drain", JOIN_N as f64, |rt| {
        on_worker(rt, async {
            let mut set = tokio::task::JoinSet::new();
            for k in 0..JOIN_N {
                set.spawn(async move { k });
            }
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(r) = set.join_next().await {
                sum += r.unwrap();
                n += 1;
            }
            check(n == JOIN_N && sum == JOIN_N * (JOIN_N - 1) / 2);
        })
    });
    h.measure("joinset_abort", JOIN_N as f64, |rt| {
        on_worker(rt, async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..JOIN_N {
                set.spawn(std::future::pending::<u64>());
            }
            set.abort_all();
            let mut n = 0u64;
            while let Some(r) = set.join_next().await {
                check(r.unwrap_err().is_cancelled());
                n += 1;
            }
            check(n == JOIN_N);
        })
    });
}

#[cfg(feature = "joinmap")]
fn joinmap_rows(h: &Harness) {
    use tokio_util::task::JoinMap;
    h.measure("joinmap_drain", JOIN_N as f64, |rt| {
        on_worker(rt, async {
            let mut map = JoinMap::new();
            for k in 0..JOIN_N {
                map.spawn(k, async move { k });
            }
            let mut n = 0u64;
            while let Some((k, r)) = map.join_one().await {
                check(r.unwrap() == k);
                n += 1;
            }
            check(n == JOIN_N);
        })
    });
    h.measure("joinmap_abort", JOIN_N as f64, |rt| {
        on_worker(rt, async {
            let mut map = JoinMap::new();
            for k in 0..JOIN_N {
                map.spawn(k, std::future::pending::<u64>());
            }
            map.abort_all();
            let mut n = 0u64;
            while let Some((_k, r)) = map.join_one().await {
                check(r.unwrap_err().is_cancelled());
                n += 1;
            }
            check(n == JOIN_N);
        })
    });
}
#[cfg(not(feature = "joinmap"))]
fn joinmap_rows(_: &Harness) {}

// ---- StreamMap rows (see bench/streammap.cpp) ----

type Rx = UnboundedReceiverStream<u64>;
const SIZES: [u64; 4] = [16, 256, 4096, 65536];

fn items_for(n: u64) -> u64 {
    if n >= 65536 {
        200
    } else if n >= 4096 {
        2_000
    } else {
        20_000
    }
}

async fn produce(tx: mpsc::UnboundedSender<u64>, m: u64) {
    for i in 0..m {
        let _ = tx.send(i);
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
}

/// The two maps under test behind one interface: tokio-stream's StreamMap and futures-util's
/// SelectAll (keys carried in the items; no removal by key).
trait Map: futures_util::Stream<Item = (u64, u64)> + Unpin + Send + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn insert(&mut self, k: u64, rx: Rx);
}
impl Map for StreamMap<u64, Rx> {
    const NAME: &'static str = "tokio_stream";
    fn new() -> Self {
        StreamMap::new()
    }
    fn insert(&mut self, k: u64, rx: Rx) {
        StreamMap::insert(self, k, rx);
    }
}
type Keyed = futures_util::stream::Map<Rx, Box<dyn FnMut(u64) -> (u64, u64) + Send>>;
impl Map for fstream::SelectAll<Keyed> {
    const NAME: &'static str = "select_all";
    fn new() -> Self {
        fstream::SelectAll::new()
    }
    fn insert(&mut self, k: u64, rx: Rx) {
        let f: Box<dyn FnMut(u64) -> (u64, u64) + Send> = Box::new(move |v| (k, v));
        self.push(rx.map(f));
    }
}

async fn one_active<M: Map>(n: u64, whole: bool) -> Duration {
    let (m, key) = (items_for(n), n / 2);
    let mut t0 = Instant::now();
    let mut map = M::new();
    let mut active = None;
    let mut idle = Vec::with_capacity(n as usize);
    for k in 0..n {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        map.insert(k, UnboundedReceiverStream::new(rx));
        if k == key {
            active = Some(tx);
        } else {
            idle.push(tx);
        }
    }
    if !whole {
        // As on the C++ side: poll the map once, untimed, so every stream has registered.
        check(tokio::task::unconstrained(map.next()).now_or_never().is_none());
        t0 = Instant::now();
    }
    let producer = tokio::spawn(produce(active.unwrap(), m));
    for i in 0..m {
        let (k, v) = map.next().await.unwrap();
        check(k == key && v == i);
    }
    producer.await.unwrap();
    let d = t0.elapsed();
    drop(idle);
    d
}

async fn all_active<M: Map>(n: u64, whole: bool) -> Duration {
    let mut t0 = Instant::now();
    let mut map = M::new();
    for k in 0..n {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        let _ = tx.send(k);
        map.insert(k, UnboundedReceiverStream::new(rx));
    }
    if !whole {
        t0 = Instant::now();
    }
    let mut count = 0u64;
    while let Some((k, v)) = map.next().await {
        check(k == v);
        count += 1;
    }
    check(count == n);
    t0.elapsed()
}

async fn churn() -> Duration {
    const N: u64 = 4096;
    let mut map: StreamMap<u64, Rx> = StreamMap::new();
    let mut live = Vec::with_capacity(N as usize);
    for k in 0..N {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        map.insert(k, UnboundedReceiverStream::new(rx));
        live.push((k, tx));
    }
    let mut rng = XorShift64(0x2545F4914F6CDD1D);
    let mut next_key = N;
    let t0 = Instant::now();
    for _ in 0..1000 {
        let slot = (rng.next() % N) as usize;
        check(map.remove(&live[slot].0).is_some());
        let key = next_key;
        next_key += 1;
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        let _ = tx.send(key);
        map.insert(key, UnboundedReceiverStream::new(rx));
        live[slot] = (key, tx);
        let (k, v) = map.next().await.unwrap();
        check(k == key && v == key);
    }
    let d = t0.elapsed();
    check(map.len() as u64 == N);
    d
}

async fn insert_all<M: Map>(n: u64) -> Duration {
    let mut rxs = Vec::with_capacity(n as usize);
    let mut txs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        rxs.push(UnboundedReceiverStream::new(rx));
        txs.push(tx);
    }
    let t0 = Instant::now();
    let mut map = M::new();
    for (k, rx) in rxs.into_iter().enumerate() {
        map.insert(k as u64, rx);
    }
    let d = t0.elapsed();
    drop(map);
    drop(txs);
    d
}

fn streammap_rows<M: Map>(h: &Harness) {
    let name = format!("streammap_insert/{}/N:65536", M::NAME);
    h.measure_manual(&name, 65536.0, |rt| on_worker(rt, insert_all::<M>(65536)));
    for (span, whole) in [("whole", true), ("read", false)] {
        for n in SIZES {
            let name = format!("streammap_one_active/{}/{}/N:{}", M::NAME, span, n);
            h.measure_manual(&name, items_for(n) as f64, |rt| on_worker(rt, one_active::<M>(n, whole)));
        }
    }
    for (span, whole) in [("whole", true), ("read", false)] {
        for n in SIZES {
            let name = format!("streammap_all_active/{}/{}/N:{}", M::NAME, span, n);
            h.measure_manual(&name, n as f64, |rt| on_worker(rt, all_active::<M>(n, whole)));
        }
    }
}

// ---- latency rows (see bench/latency.hpp, wake_latency.cpp, starvation.cpp) ----

const LOAD_TASKS: usize = 4;

async fn spinner(stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let until = Instant::now() + Duration::from_micros(1);
        while Instant::now() < until {}
        tokio::task::yield_now().await;
    }
}

fn quantile(v: &mut Vec<u64>, q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = std::cmp::min(v.len() - 1, (q * v.len() as f64) as usize);
    v[i] as f64
}

fn latency_rows(h: &Harness) {
    const MESSAGES: usize = 20_000;
    h.measure_counters("wake_latency", |rt| {
        let base = Instant::now();
        let ns = move || base.elapsed().as_nanos() as u64;
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        let sender = std::thread::spawn(move || {
            let t_start = ns();
            for _ in 0..MESSAGES {
                std::thread::sleep(Duration::from_micros(20));
                let _ = tx.send(ns());
            }
            (ns() - t_start) as f64 / MESSAGES as f64
        });
        let mut lat = on_worker(rt, async move {
            let stop = Arc::new(AtomicBool::new(false));
            let load: Vec<_> = (0..LOAD_TASKS).map(|_| tokio::spawn(spinner(stop.clone()))).collect();
            let lat = tokio::spawn(async move {
                let mut lat = Vec::with_capacity(MESSAGES);
                while let Some(sent) = rx.recv().await {
                    lat.push(ns() - sent);
                }
                lat
            })
            .await
            .unwrap();
            stop.store(true, Ordering::Relaxed);
            for l in load {
                l.await.unwrap();
            }
            lat
        });
        let interval = sender.join().unwrap();
        check(lat.len() == MESSAGES);
        vec![
            ("p50_ns", quantile(&mut lat, 0.50)),
            ("p99_ns", quantile(&mut lat, 0.99)),
            ("p999_ns", quantile(&mut lat, 0.999)),
            ("max_ns", *lat.last().unwrap() as f64),
            ("interval_ns", interval),
        ]
    });
    h.measure_counters("starvation", |rt| {
        let mut gaps = on_worker(rt, async {
            let stop = Arc::new(AtomicBool::new(false));
            let load: Vec<_> = (0..LOAD_TASKS).map(|_| tokio::spawn(spinner(stop.clone()))).collect();
            let gaps = tokio::spawn(async {
                let mut gaps = Vec::with_capacity(1 << 20);
                let start = Instant::now();
                let mut prev = start;
                while prev - start < Duration::from_secs(1) {
                    tokio::task::yield_now().await;
                    let now = Instant::now();
                    gaps.push((now - prev).as_nanos() as u64);
                    prev = now;
                }
                gaps
            })
            .await
            .unwrap();
            stop.store(true, Ordering::Relaxed);
            for l in load {
                l.await.unwrap();
            }
            gaps
        });
        let n = gaps.len() as f64;
        vec![
            ("resumptions", n),
            ("p50_ns", quantile(&mut gaps, 0.50)),
            ("p99_ns", quantile(&mut gaps, 0.99)),
            ("max_ns", *gaps.last().unwrap() as f64),
        ]
    });
}

// ---- driver rows (see bench/timers.cpp) ----

fn driver_rows(h: &Harness) {
    const TIMERS: usize = 10_000;
    h.measure("timer_insert_cancel", TIMERS as f64, |rt| {
        on_worker(rt, async {
            let mut rng = XorShift64(0x9E3779B97F4A7C15);
            let now = tokio::time::Instant::now();
            let mut sleeps: Vec<std::pin::Pin<Box<tokio::time::Sleep>>> = Vec::with_capacity(TIMERS);
            for _ in 0..TIMERS {
                let us = 1_000 + (rng.next() % 10_000_000) as u64;
                sleeps.push(Box::pin(tokio::time::sleep_until(now + Duration::from_micros(us))));
            }
            std::future::poll_fn(|cx| {
                for s in sleeps.iter_mut() {
                    let _ = std::future::Future::poll(s.as_mut(), cx);
                }
                std::task::Poll::Ready(())
            })
            .await;
            sleeps.clear();
        })
    });
    const SLEEPS: usize = 2_000;
    h.measure_counters("sleep_lateness", |rt| {
        let mut late = on_worker(rt, async {
            let stop = Arc::new(AtomicBool::new(false));
            let load: Vec<_> = (0..LOAD_TASKS).map(|_| tokio::spawn(spinner(stop.clone()))).collect();
            let late = tokio::spawn(async {
                let mut late = Vec::with_capacity(SLEEPS);
                for _ in 0..SLEEPS {
                    let deadline = tokio::time::Instant::now() + Duration::from_millis(1);
                    tokio::time::sleep_until(deadline).await;
                    late.push((tokio::time::Instant::now() - deadline).as_nanos() as u64);
                }
                late
            })
            .await
            .unwrap();
            stop.store(true, Ordering::Relaxed);
            for l in load {
                l.await.unwrap();
            }
            late
        });
        vec![
            ("p50_ns", quantile(&mut late, 0.50)),
            ("p99_ns", quantile(&mut late, 0.99)),
            ("max_ns", *late.last().unwrap() as f64),
        ]
    });
    const BLOCKING: i64 = 2_000;
    h.measure("spawn_blocking", BLOCKING as f64, |rt| {
        on_worker(rt, async {
            let mut sum = 0i64;
            for _ in 0..BLOCKING {
                sum += tokio::task::spawn_blocking(|| 1i64).await.unwrap();
            }
            check(sum == BLOCKING);
        })
    });
}

// ---- TCP echo rows (see bench/tcp_echo.cpp) ----

async fn echo_conn(mut s: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await.unwrap();
    }
}

async fn echo_serve(l: tokio::net::TcpListener, conns: usize) {
    let mut hs = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (s, _) = l.accept().await.unwrap();
        hs.push(tokio::spawn(echo_conn(s)));
    }
    for h in hs {
        h.await.unwrap();
    }
}

const ROUND_TRIPS: usize = 20_000;

async fn ping_client(at: std::net::SocketAddr, n: usize, base: Instant) -> Vec<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(at).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut msg = [0u8; 64];
    let mut back = [0u8; 64];
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        msg[0] = i as u8;
        let t0 = base.elapsed().as_nanos() as u64;
        s.write_all(&msg).await.unwrap();
        s.read_exact(&mut back).await.unwrap();
        lat.push(base.elapsed().as_nanos() as u64 - t0);
        check(back == msg);
    }
    lat
}

const ECHO_BYTES: usize = 64 << 20;
const ECHO_CHUNK: usize = 64 << 10;

async fn stream_client(at: std::net::SocketAddr, n: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = tokio::net::TcpStream::connect(at).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut r, mut w) = s.into_split();
    let rd = tokio::spawn(async move {
        let mut buf = vec![0u8; ECHO_CHUNK];
        let mut got = 0;
        while got < n {
            let k = r.read(&mut buf).await.unwrap();
            check(k != 0);
            got += k;
        }
    });
    let data = vec![0x5au8; ECHO_CHUNK];
    let mut sent = 0;
    while sent < n {
        let k = std::cmp::min(ECHO_CHUNK, n - sent);
        w.write_all(&data[..k]).await.unwrap();
        sent += k;
    }
    rd.await.unwrap();
    drop(w); // shuts the write side: the server's echo task ends
}

fn tcp_rows(h: &Harness) {
    for conns in [1usize, 100] {
        h.measure_counters(if conns == 1 { "tcp_echo_latency/conns:1" } else { "tcp_echo_latency/conns:100" }, |rt| {
            let mut lat = on_worker(rt, async move {
                let base = Instant::now();
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let at = l.local_addr().unwrap();
                let server = tokio::spawn(echo_serve(l, conns));
                let clients: Vec<_> = (0..conns).map(|_| tokio::spawn(ping_client(at, ROUND_TRIPS / conns, base))).collect();
                let mut all = Vec::with_capacity(ROUND_TRIPS);
                for c in clients {
                    all.extend(c.await.unwrap());
                }
                server.await.unwrap();
                all
            });
            check(lat.len() == ROUND_TRIPS);
            // The twin of bench/tcp_echo.cpp's dump (see there), before the quantiles sort.
            if let Ok(dir) = std::env::var("WEFT_BENCH_DUMP_DIR") {
                use std::io::Write;
                let path = format!("{}/tcp_echo_latency_conns{}_tokio.txt", dir, conns);
                let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("cannot write the dump"));
                for ns in &lat {
                    writeln!(f, "{}", ns).unwrap();
                }
            }
            vec![("units", ROUND_TRIPS as f64), ("p50_ns", quantile(&mut lat, 0.50)), ("p99_ns", quantile(&mut lat, 0.99))]
        });
        h.measure(if conns == 1 { "tcp_echo_throughput/conns:1" } else { "tcp_echo_throughput/conns:100" },
                  (ECHO_BYTES >> 20) as f64, |rt| {
            on_worker(rt, async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let at = l.local_addr().unwrap();
                let server = tokio::spawn(echo_serve(l, conns));
                let clients: Vec<_> = (0..conns).map(|_| tokio::spawn(stream_client(at, ECHO_BYTES / conns))).collect();
                for c in clients {
                    c.await.unwrap();
                }
                server.await.unwrap();
            })
        });
    }
}

fn main() {
    let mut reps = 5;
    let mut filter = Vec::new();
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().expect("--reps N").parse().expect("--reps N"),
            "--filter" => filter = args.next().expect("--filter A,B").split(',').map(String::from).collect(),
            "--list" => list = true,
            _ => panic!("unknown argument {}", a),
        }
    }
    // The I/O and time drivers on, as weft's runtime has them by default (enable_io,
    // enable_time): idle workers park in the driver on both sides.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS).enable_all().build().unwrap();
    let h = Harness { rt, reps, filter, list };
    scheduler(&h);
    mpsc_rows(&h);
    joinset_rows(&h);
    joinmap_rows(&h);
    streammap_rows::<StreamMap<u64, Rx>>(&h);
    streammap_rows::<fstream::SelectAll<Keyed>>(&h);
    h.measure_manual("streammap_churn/tokio_stream/read/N:4096", 1000.0, |rt| on_worker(rt, churn()));
    latency_rows(&h);
    driver_rows(&h);
    tcp_rows(&h);
}
