//! A cloneable one-shot shutdown signal shared by the node's tasks, on a
//! tokio watch channel. A dropped trigger counts as fired.

use tokio::sync::watch;

/// The receiving side: tasks wait on it.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

/// The sending side: the node fires it once.
#[derive(Debug)]
pub(crate) struct Trigger(watch::Sender<bool>);

/// A new signal, not fired.
pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Shutdown(receiver))
}

impl Trigger {
    /// Fires the signal (idempotent).
    pub(crate) fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Resolves once the signal has fired (at once if it already has).
    pub(crate) async fn wait(&self) {
        let mut receiver = self.0.clone();
        let _closed = receiver.wait_for(|fired| *fired).await;
    }

    /// True once fired.
    pub(crate) fn is_fired(&self) -> bool {
        *self.0.borrow()
    }
}
