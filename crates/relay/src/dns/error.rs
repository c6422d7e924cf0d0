//! How a failed lookup is reported to the delivery code: permanent or temporary.
//!
//! Where it sits: [`super::resolver`] turns every hickory-resolver error into a
//! [`DnsError`] with [`classify`]; the delivery router bounces on a permanent one and
//! requeues on a temporary one. Enhanced status codes are RFC 3463's.

use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;

/// Why the hosts or addresses for a name could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// NXDOMAIN for the mail domain, no MX and no A/AAAA, or a name that is not a valid
    /// domain name: permanent (5.1.2 bad destination system, 5.4.4 unable to route).
    #[error("not found: {0}")]
    NotFound(String),
    /// SERVFAIL, REFUSED, timeout, network error: try later (4.4.3 directory server
    /// failure).
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
    /// The resolver could not be set up (bad configuration, unreadable resolv.conf).
    #[error("DNS configuration: {0}")]
    Config(String),
}

impl DnsError {
    /// True when retrying cannot help, so the message should bounce.
    ///
    /// A configuration error is not permanent for the message: fixing the configuration
    /// lets a later attempt succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DnsError::NotFound(_))
    }
}

/// What a lookup error means for mail routing.
pub(crate) enum Failure {
    /// NXDOMAIN: the name does not exist at all (RFC 1035 §4.1.1 RCODE 3).
    NxDomain,
    /// NOERROR with an empty answer ("NODATA"): the name exists, without records of the
    /// type asked for (RFC 2308 §2.2).
    NoData,
    /// Anything else: the answer could not be had now.
    Temporary(String),
}

/// Sorts a hickory-resolver error into NXDOMAIN, NODATA or temporary.
pub(crate) fn classify(err: &NetError) -> Failure {
    match err {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no)) => match no.response_code {
            ResponseCode::NXDomain => Failure::NxDomain,
            _ => Failure::NoData,
        },
        other => Failure::Temporary(other.to_string()),
    }
}
