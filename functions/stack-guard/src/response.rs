//! The answer CloudFormation waits for: the body `PUT` to the request's
//! `ResponseURL` (and the invocation's result, for the log).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::Request;

/// CloudFormation refuses a response body larger than this.
pub const MAX_BODY_BYTES: usize = 4096;

/// The reason's clause for what a step left undone, in the form every step
/// uses so that an operator finds it in the stack's events:
/// `; NOT RENAMED (2): a; b`, with what happens next after the count
/// (`then`, e.g. `, retry the delete`). Empty when nothing is left.
pub fn left_undone(label: &str, then: &str, left: &[String]) -> String {
    match left.is_empty() {
        true => String::new(),
        false => format!("; {label} ({}){then}: {}", left.len(), left.join("; ")),
    }
}

/// Whether the request succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

/// The custom-resource response: `Reason` is what the stack's events show,
/// `Data` what `Fn::GetAtt` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: BTreeMap<String, String>,
}

impl Response {
    /// An answer to `request`, cut to fit [`MAX_BODY_BYTES`].
    pub fn to(
        request: &Request,
        status: Status,
        physical_resource_id: String,
        reason: String,
        data: BTreeMap<String, String>,
    ) -> Self {
        Response {
            status,
            reason,
            physical_resource_id,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data,
        }
        .fitted()
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The longest of `Reason` and the `Data` values is cut, with a note,
    /// until the body fits: the log keeps the whole text.
    fn fitted(mut self) -> Self {
        for _ in 0..64 {
            let excess = self.body().len().saturating_sub(MAX_BODY_BYTES);
            if excess == 0 {
                break;
            }
            let longest = self
                .data
                .values_mut()
                .chain(std::iter::once(&mut self.reason))
                .max_by_key(|text| text.len());
            let Some(text) = longest else { break };
            let keep = text.len().saturating_sub(excess + TRUNCATED.len() + 8);
            *text = truncated(text, keep);
        }
        self
    }
}

const TRUNCATED: &str = "… (truncated: see the function's log)";

/// `text` cut to at most `keep` bytes (at a character boundary) with a note.
fn truncated(text: &str, keep: usize) -> String {
    let mut end = keep.min(text.len());
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let kept = text.get(..end).unwrap_or_default();
    format!("{kept}{TRUNCATED}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Input, Request};
    use pretty_assertions::assert_eq;

    fn request() -> Request {
        match serde_json::from_str(include_str!("../../../events/stack-create.json")).unwrap() {
            Input::Request(request) => *request,
            Input::Refused(err) => panic!("{err}"),
        }
    }

    #[test]
    fn the_body_has_the_protocol_fields() {
        let response = Response::to(
            &request(),
            Status::Success,
            "scaling-guard-prod".to_owned(),
            "policy valid".to_owned(),
            [("Cluster".to_owned(), "prod".to_owned())].into(),
        );
        let body: serde_json::Value = serde_json::from_str(&response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "Status": "SUCCESS",
                "Reason": "policy valid",
                "PhysicalResourceId": "scaling-guard-prod",
                "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/scaling-guard/5b8e2c20-cf1a-11f0-9a1e-0a7c4d2b1f3e",
                "RequestId": "9f1c6c55-3f4e-4a55-9d55-2f8b0a1f7c11",
                "LogicalResourceId": "Guard",
                "Data": {"Cluster": "prod"}
            })
        );
    }

    #[test]
    fn a_long_reason_is_cut_with_a_note_to_fit_4_kib() {
        let reason = "`GUARD_ALLOWED_AMI_IDS` is not an image id: `ámi-x`; ".repeat(200);
        let response = Response::to(
            &request(),
            Status::Failed,
            "scaling-guard-prod".to_owned(),
            reason.clone(),
            BTreeMap::new(),
        );
        assert!(response.body().len() <= MAX_BODY_BYTES);
        assert!(response.body().len() > MAX_BODY_BYTES - 200);
        assert!(response.reason.ends_with(TRUNCATED), "{}", response.reason);
        let kept = response.reason.trim_end_matches(TRUNCATED);
        assert!(reason.starts_with(kept));
    }
}
