//! A cloneable one-shot shutdown signal shared by the node's tasks, on a
//! tokio watch channel. A dropped trigger counts as fired.

use tokio::sync::watch;

/// The receiving side: tasks wait on it.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side: the node fires it once.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// A new signal, not fired.
pub fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Shutdown(receiver))
}

impl Trigger {
    /// Fires the signal (idempotent).
    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    /// A new receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Resolves once the signal has fired (at once if it already has).
    pub async fn wait(&self) {
        let mut receiver = self.0.clone();
        let _closed = receiver.wait_for(|fired| *fired).await;
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }
}
