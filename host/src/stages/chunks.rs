//! Reading a stream in the chunks the stages feed the component.

use std::io::Read;
use std::ops::ControlFlow;

use crate::exit;
use crate::failure::Failure;

/// Bytes read per call into the component.
pub const READ_CHUNK: usize = 1 << 20;

/// Hands `input` to `each` a chunk at a time until the end of input or until `each` says
/// stop; interrupted reads are retried, a failed read is an I/O failure.
pub fn each_chunk(input: &mut dyn Read, mut each: impl FnMut(&[u8]) -> Result<ControlFlow<()>, Failure>) -> Result<(), Failure> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure { code: exit::IO_ERROR, message: format!("cannot read the stream: {e}") }),
        };
        if each(&buf[..n])?.is_break() {
            return Ok(());
        }
    }
}
