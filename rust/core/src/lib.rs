//! bettimatch-core: exact cubical persistence with pixel locations, and Betti matching
//! (induced matchings of persistence barcodes, Stucki et al. 2023) for 2D images.
//!
//! Everything here works on *sublevel* values (low values enter first); the binding layer turns a
//! superlevel request into the sublevel filtration of `1 - x`. See `DESIGN.md` and the README's
//! semantics table for the conventions, and [`grid`] for the cell orders.

pub mod batch;
pub mod bitplane;
pub mod diagram_matching;
pub mod distance_transform;
pub mod error;
pub mod filtration;
pub mod grid;
pub mod key_set;
mod image_order;
pub mod masks;
pub mod matching;
#[cfg(test)]
mod matching_oracle_t3_tests;
#[cfg(test)]
mod matching_oracle_tests;
pub mod middle;
#[cfg(test)]
mod no_panic_tests;
pub mod order;
pub mod persistence;
mod ready_tasks;
pub mod reduction;
pub mod run_components;
pub mod skeleton;
pub mod skeleton3d;
mod skeleton3d_cube;
#[cfg(test)]
mod test_rng;
pub mod tie_order;
pub mod two_level;
pub mod union_find;
pub mod volume_betti;
pub mod volume_matching;
#[cfg(test)]
mod volume_tests;

pub use batch::{barcodes, mask_counts_batch, matchings, BatchError, BatchResult, Stop, ThreadCount, MAX_THREADS};
pub use error::InputError;
pub use grid::{Connectivity, Shape};
pub use masks::{mask_counts, MaskCounts};
pub use matching::{betti_matching, Matching};
pub use persistence::{barcode, Barcode, PersistencePair};
pub use tie_order::Ties;
