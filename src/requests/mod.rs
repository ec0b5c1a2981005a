//! Data-subject requests. So far: the legal deadline of a request (Art. 12(3) GDPR with the
//! Dutch Algemene termijnenwet); intake and the request lifecycle follow.

pub mod deadline;
