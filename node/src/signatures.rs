//! The door's signature checks, batched across concurrent submissions.
//!
//! Every submission (an API request, or a batch a follower forwarded) sends
//! its approvals to one worker. The worker takes everything queued at that
//! moment (after one turn of the scheduler, if that is only a job or two)
//! and checks it as one batch
//! ([`gemtrail_ledger::signature_batch::verify_all`]), on the blocking pool
//! when the batch is large. Under load, batches grow by themselves while the
//! previous one is being checked; a lone client's batch is its own
//! transaction, checked at once, so it waits for nobody.
//!
//! Batching changes no verdict (see the ledger module), and verdicts already
//! in the verification memo are answered without the worker.

use gemtrail_ledger::signature_batch::{verify_all, SignatureCheck};
use gemtrail_ledger::verify_memo;
use tokio::sync::{mpsc, oneshot};

/// Most signatures checked in one batch: bounds the time one batch takes
/// (about 2 ms here) and so the wait of those queued behind it.
const BATCH_CHECKS_MAX: usize = 512;

/// Batches up to this size are checked on the worker's own thread: the hop
/// to the blocking pool would cost more than it frees.
const INLINE_CHECKS_MAX: usize = 2;

/// Jobs waiting for the worker; senders wait when it is full.
const QUEUE_JOBS_MAX: usize = 4096;

struct Job {
    checks: Vec<SignatureCheck>,
    reply: oneshot::Sender<Vec<bool>>,
}

/// A handle to the batching worker; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct SignatureVerifier {
    jobs: mpsc::Sender<Job>,
}

impl SignatureVerifier {
    /// Starts the worker on the current tokio runtime. It stops when every
    /// handle is dropped.
    pub(crate) fn start() -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_JOBS_MAX);
        tokio::spawn(run(queue));
        Self { jobs }
    }

    /// The verdict of each check, in order.
    pub(crate) async fn verify(&self, checks: Vec<SignatureCheck>) -> Vec<bool> {
        if checks.iter().all(is_remembered) {
            return vec![true; checks.len()];
        }
        let (reply, verdicts) = oneshot::channel();
        let job = Job {
            checks: checks.clone(),
            reply,
        };
        if self.jobs.send(job).await.is_ok() {
            if let Ok(verdicts) = verdicts.await {
                return verdicts;
            }
        }
        // The worker is gone (the runtime is stopping) or dropped the job (a
        // panic): check here. Verdicts are a pure function of the checks, so
        // this gives the answer the worker would have given.
        verify_all(&checks)
    }
}

fn is_remembered(check: &SignatureCheck) -> bool {
    verify_memo::contains(&verify_memo::fingerprint(
        &check.key.0,
        &check.signature.0,
        &check.message,
    ))
}

async fn run(mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut count = first.checks.len();
        let mut jobs = vec![first];
        drain(&mut queue, &mut jobs, &mut count);
        if count <= INLINE_CHECKS_MAX {
            // Let submissions whose tasks are already running join this
            // batch: one turn of the scheduler, microseconds when nothing
            // else runs. Under load the door was checking many signatures
            // alone (about 34 µs each, against 15 in a batch of eight): 8% of
            // the leader's CPU against 11% for all its batches. With this
            // turn, alternating runs at 256 clients gave 5-8% more
            // transactions a second (all seven pairs).
            tokio::task::yield_now().await;
            drain(&mut queue, &mut jobs, &mut count);
        }
        if count <= INLINE_CHECKS_MAX {
            check_and_answer(jobs);
        } else {
            // A panic there drops the jobs' reply senders, and each
            // submitter checks its own (see `verify`).
            let _ = tokio::task::spawn_blocking(move || check_and_answer(jobs)).await;
        }
    }
}

/// Adds to `jobs` what the queue holds now, up to a full batch.
fn drain(queue: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>, count: &mut usize) {
    while *count < BATCH_CHECKS_MAX {
        let Ok(job) = queue.try_recv() else { break };
        *count += job.checks.len();
        jobs.push(job);
    }
}

fn check_and_answer(jobs: Vec<Job>) {
    let checks: Vec<SignatureCheck> = jobs
        .iter()
        .flat_map(|job| job.checks.iter().copied())
        .collect();
    let mut verdicts = verify_all(&checks).into_iter();
    for job in jobs {
        let answer: Vec<bool> = verdicts.by_ref().take(job.checks.len()).collect();
        // A submitter that hung up no longer needs its answer.
        let _ = job.reply.send(answer);
    }
}
