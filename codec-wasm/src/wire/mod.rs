//! The stream on the wire: bytes in, frames out. Lines are split and classified, and a
//! `zipfile` frame's base64 is decoded as it arrives; no file is touched here.

pub(crate) mod base64;
pub(crate) mod classify;
pub(crate) mod decoder;
pub(crate) mod diagnose;
