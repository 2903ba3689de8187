//! The few things Node cannot do for a Wayland bridge: Unix sockets with fd passing, a
//! libwayland-style listening socket, fd readiness on Node's event loop, and shared-memory
//! mappings that survive clients shrinking their files; and the pixel loops and the lossless block
//! codecs (LZ4, zstd) of the tile pipeline.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod alloc;
pub mod codec;
pub mod commits;
pub mod error;
pub mod fd;
pub mod frame;
#[cfg(test)]
mod fuzz;
pub mod listener;
mod lz4;
mod mirror;
pub mod pixels;
pub mod poller;
pub mod reads;
pub mod refine;
pub mod rgb;
pub mod rgb24;
pub mod scroll;
pub mod shm;
pub mod sigbus;
pub mod socket;
pub mod steady;
