//! `promote`: promote versions between GitOps environments, editing only the version bytes.

pub mod action;
pub mod cmd;
pub mod config;
pub mod edit;
pub mod event;
pub mod forge;
pub mod gate;
pub mod plan;
pub mod repo;
pub mod source;

/// A short string kept inline (names, versions, ids and paths of up to 24 bytes need no
/// allocation): a plan holds several per component, and most are that short.
pub type Text = compact_str::CompactString;

/// Free `value` on a thread of its own when it holds many records (`items`): freeing tens of
/// thousands of components one by one is work the caller need not wait for. A command exits
/// before the thread ends; a long-lived caller gets the memory back all the same.
pub fn free_later<T: Send + 'static>(value: T, items: usize) {
    const MANY: usize = 4096;
    if items < MANY {
        return drop(value);
    }
    // Without a thread (spawn failed), the closure and `value` are dropped here.
    let _ = std::thread::Builder::new()
        .name("free".into())
        .stack_size(64 * 1024)
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    /// Says on which thread it was dropped.
    struct Tell(mpsc::Sender<Option<String>>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().name().map(String::from));
        }
    }

    #[test]
    fn few_records_are_freed_at_once_many_on_a_thread_of_their_own() {
        let (tx, rx) = mpsc::channel();
        super::free_later(Tell(tx.clone()), 10);
        // Dropped before `free_later` returned, on this thread.
        let here = std::thread::current().name().map(String::from);
        assert_eq!(rx.try_recv().expect("dropped at once"), here);

        super::free_later(Tell(tx), 100_000);
        let by = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("dropped by the thread");
        assert_eq!(by.as_deref(), Some("free"));
    }
}
