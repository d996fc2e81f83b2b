//! A TCP relay that a test can cut off and restore: put in front of a control
//! plane (a cluster that drops off the network) or of PostgreSQL (a replica
//! cut off from the database).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP relay in front of a server that a test can cut off and restore.
/// Cut off, it closes every relayed connection and holds each new one open
/// without an answer — to Slipway the server behind it is gone the way a
/// region that drops off the network is gone (requests hang until their
/// timeouts), not merely refusing. Used instead of stopping the server, which
/// other tests use at the same time.
pub struct Relay {
    /// Where Slipway connects: `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    forwarding: Arc<AtomicBool>,
    copies: Arc<Mutex<Vec<AbortHandle>>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    accept: AbortHandle,
}

impl Relay {
    /// Relays a fresh local port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("its address");
        let forwarding = Arc::new(AtomicBool::new(true));
        let copies: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (forwarding, copies, held) = (forwarding.clone(), copies.clone(), held.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !forwarding.load(Ordering::SeqCst) {
                        held.lock().unwrap().push(inbound);
                        continue;
                    }
                    let copy = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    copies.lock().unwrap().push(copy.abort_handle());
                }
            })
            .abort_handle()
        };
        Relay {
            addr,
            forwarding,
            copies,
            held,
            accept,
        }
    }

    /// A relay in front of the test's database, and the connect options that
    /// reach the database through it.
    pub async fn in_front_of(pool: &sqlx::PgPool) -> (Self, sqlx::postgres::PgConnectOptions) {
        let options = (*pool.connect_options()).clone();
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .expect("the database's address")
            .next()
            .expect("an address");
        let relay = Self::start(upstream).await;
        let through = options.port(relay.addr.port());
        (relay, through)
    }

    /// Cuts it off: every relayed connection closes; new ones hang.
    pub async fn cut(&self) {
        self.forwarding.store(false, Ordering::SeqCst);
        let copies: Vec<AbortHandle> = self.copies.lock().unwrap().drain(..).collect();
        for copy in &copies {
            copy.abort();
        }
        // Each copy ends (and drops its sockets) at its next await point.
        for _ in 0..200 {
            if copies.iter().all(AbortHandle::is_finished) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            copies.iter().all(AbortHandle::is_finished),
            "every relayed connection closed"
        );
    }

    /// Restores it: held connections close (their clients retry), new ones
    /// are relayed again.
    pub async fn restore(&self) {
        self.held.lock().unwrap().clear();
        self.forwarding.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        for copy in self.copies.lock().unwrap().drain(..) {
            copy.abort();
        }
    }
}
