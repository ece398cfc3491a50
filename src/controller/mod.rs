//! The controller: reconciles the orgs of a repository continuously. [`shard`] shares the orgs
//! among replicas through per-org leases kept in the Braintrust API.

pub mod shard;
