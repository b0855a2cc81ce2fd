//! What a function is invoked with, read so that every payload reaches the
//! handler: launch-guard and instance-audit decode their payloads the same
//! way, each with its own reader ([`Decode`]).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A payload a function reads from the JSON it is invoked with.
pub trait Decode: Sized {
    /// Why a payload is not one the function handles.
    type Error;

    /// The payload `json` is, or why it is none.
    fn decode(json: Value) -> Result<Self, Self::Error>;
}

/// An invocation's payload: the `P` it is, or why it is none.
///
/// It deserializes from any JSON value, decoding it with [`Decode::decode`],
/// so that a payload that is none of the function's reaches the handler and
/// is refused with the function's own error (`MalformedEvent` and the
/// decoder's message), not with the runtime's deserialization error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input<P: Decode>(Result<P, P::Error>);

impl<P: Decode> Input<P> {
    /// The payload, or why the invocation is none.
    pub fn into_payload(self) -> Result<P, P::Error> {
        self.0
    }
}

impl<P: Decode> From<Value> for Input<P> {
    fn from(json: Value) -> Self {
        Self(P::decode(json))
    }
}

impl<'de, P: Decode> Deserialize<'de> for Input<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload that is a JSON number.
    #[derive(Debug, PartialEq)]
    struct Number(u64);

    impl Decode for Number {
        type Error = String;

        fn decode(json: Value) -> Result<Self, String> {
            json.as_u64()
                .map(Number)
                .ok_or(format!("not a number: {json}"))
        }
    }

    #[test]
    fn any_json_deserializes_to_the_payload_or_the_decoder_s_refusal() {
        let number: Input<Number> = serde_json::from_str("42").unwrap();
        assert_eq!(number.into_payload(), Ok(Number(42)));
        let refused: Input<Number> = serde_json::from_str(r#"{"a": 1}"#).unwrap();
        assert_eq!(
            refused.into_payload(),
            Err(r#"not a number: {"a":1}"#.to_owned())
        );
    }
}
