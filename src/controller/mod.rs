//! The controller: reconciles the orgs of a repository continuously. [`shard`] shares the orgs
//! among replicas through per-org leases kept in the Braintrust API; [`propose`] turns drift into
//! a pull request.

pub mod propose;
pub mod shard;
