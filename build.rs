//! Links `promote` (and the bench beside it) at a fixed address on Linux (`-no-pie`).
//!
//! A position-independent executable is relocated by the loader at every start: about 15,000
//! pointers in its read-only data patched, each page they sit on copied on write first. For a
//! command that runs for milliseconds that is most of its start: `promote plan` on 3 pins takes
//! 0.83 of the wall time without it, on 30,000 dotenv pins 0.93 (`farm-bench -n 100`, README
//! "Performance"). The cost is address-space randomisation of the executable's own image (its
//! heap, stack and shared libraries are still placed at random), as Go's linker does by default.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        // The floor is linked alike: the bench compares work, not start-up.
        println!("cargo:rustc-link-arg-benches=-no-pie");
    }
}
