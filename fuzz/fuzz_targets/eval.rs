//! Any text as a `.aurora` file (and as a file it includes): evaluation must return a value or an
//! error, never panic, hang or overflow the stack.
#![no_main]

use aurora_config::{Config, MemoryLoader};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut loader = MemoryLoader::default();
    // The same text is reachable as an include, so include() paths are exercised too.
    loader.files.insert(PathBuf::from("dir/main.aurora"), text.to_owned());
    loader.files.insert(PathBuf::from("dir/inc.aurora"), text.to_owned());
    if let Ok(config) = Config::load_with(Path::new("dir/main.aurora"), &loader) {
        if let Ok(keys) = config.job_keys(&[]) {
            for key in keys {
                if let Ok(key) = key.parse() {
                    let _ = config.resolve(&key, &[]);
                }
            }
        }
    }
});
