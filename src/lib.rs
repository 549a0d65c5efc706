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

/// mimalloc's `mi_option_purge_delay` (`include/mimalloc.h` of mimalloc 3, which
/// libmimalloc-sys builds; it exports no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// From now on, memory freed goes back to the system at once, unless `MIMALLOC_PURGE_DELAY`
/// says otherwise. Called before a second thread starts parsing ([`plan`]).
///
/// mimalloc keeps freed memory for a second by default, longer than most runs, and does not
/// always reuse it first: two environments parsed side by side then peaked well above one after
/// the other (YAML, 30,000 HelmReleases: 77 MiB against 60), and handed back at once, below it
/// (57 MiB). On one thread it is left as it is: purging at once costs time there (about 1.1x
/// for 30,000 dotenv pins and 1.15x for an HCL map of 30,000 entries).
#[allow(unsafe_code)]
pub fn free_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option takes no pointer; mimalloc reads it when it next purges.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

/// The process is about to exit: from now on nothing freed goes back to the system. mimalloc's
/// collection at exit would otherwise hand back (`madvise`) every page it holds free, memory the
/// system takes back a moment later anyway: 3% of the wall time of a plan of 30,000 pins, 7% of
/// one of 3.
#[allow(unsafe_code)]
pub fn exiting() {
    // SAFETY: setting an option takes no pointer; a negative delay turns purging off.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    /// The option [`super::free_at_once`] sets is mimalloc's purge delay: its default (1,000 ms
    /// in mimalloc 3) is there before, 0 after, and -1 (never) once [`super::exiting`].
    #[test]
    #[allow(unsafe_code)]
    fn freed_memory_goes_back_at_once() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading an option takes no pointer.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000);
        super::free_at_once();
        assert_eq!(get(), 0);
        // At exit, nothing is handed back any more (a negative delay).
        super::exiting();
        assert_eq!(get(), -1);
    }
}
