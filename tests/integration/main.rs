//! One integration-test binary; a module per area.

mod ack_codes;
mod corpus;
mod corpus_validation;
mod edifact_npm;
mod events;
mod fixtures;
mod golden;
mod mapping;
mod mapping_more;
mod mapping_ship_invoice;
mod outbound;
mod peers;
mod roundtrip_props;
mod specs;
mod streaming;
mod validation;
mod validation_robustness;
mod xml;
