//! What CloudFormation sends the custom resource: a create, update or
//! delete request, decoded here, once, into an [`Input`].

use std::collections::BTreeMap;

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use serde::Deserialize;
use serde_json::Value;
use shared::policy::settings;

/// What CloudFormation asks of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// One custom-resource request: what to do, where to answer, and the
/// identifiers the answer must echo.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub request_type: RequestType,
    /// The pre-signed URL the answer is `PUT` to.
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// The id of the resource as created; absent on `Create`.
    pub physical_resource_id: Option<String>,
    /// `ResourceProperties` as the template wrote them (with `ServiceToken`).
    pub properties: Value,
    /// `OldResourceProperties`: what an `Update` replaces; absent otherwise.
    pub old_properties: Option<Value>,
}

/// The event is not a custom-resource request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not a CloudFormation custom resource request: {0}")]
    Malformed(String),
}

/// An invocation's payload.
///
/// It deserializes from any JSON value, so that a payload that is not a
/// custom-resource request reaches the handler and is refused with the
/// function's own error, not with the runtime's deserialization error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "Value")]
pub enum Input {
    Request(Box<Request>),
    Refused(EventError),
}

impl From<Value> for Input {
    fn from(payload: Value) -> Self {
        match decode(payload) {
            Ok(request) => Input::Request(Box::new(request)),
            Err(err) => Input::Refused(err),
        }
    }
}

fn decode(payload: Value) -> Result<Request, EventError> {
    let request: CloudFormationCustomResourceRequest<Value, Value> =
        serde_json::from_value(payload).map_err(|e| EventError::Malformed(e.to_string()))?;
    let request = match request {
        CloudFormationCustomResourceRequest::Create(r) => Request {
            request_type: RequestType::Create,
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: None,
            properties: r.resource_properties,
            old_properties: None,
        },
        CloudFormationCustomResourceRequest::Update(r) => Request {
            request_type: RequestType::Update,
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            properties: r.resource_properties,
            old_properties: Some(r.old_resource_properties),
        },
        CloudFormationCustomResourceRequest::Delete(r) => Request {
            request_type: RequestType::Delete,
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            properties: r.resource_properties,
            old_properties: None,
        },
        _ => {
            return Err(EventError::Malformed(
                "unknown `RequestType` (expected `Create`, `Update` or `Delete`)".to_owned(),
            ));
        }
    };
    if request.response_url.trim().is_empty() {
        return Err(EventError::Malformed(
            "the `ResponseURL` is empty".to_owned(),
        ));
    }
    Ok(request)
}

/// The property that carries the policy.
pub const POLICY_PROPERTY: &str = "Policy";

impl Request {
    /// The `GUARD_*` variables of the `Policy` property, or every problem
    /// with its shape. CloudFormation passes every scalar as a string; numbers
    /// and booleans (from a hand-written event) are read as their text.
    pub fn policy_vars(&self) -> Result<BTreeMap<String, String>, Vec<String>> {
        policy_vars(&self.properties)
    }

    /// [`Request::policy_vars`] of `OldResourceProperties` (an `Update`'s
    /// previous policy); `None` when the request has none.
    pub fn old_policy_vars(&self) -> Option<Result<BTreeMap<String, String>, Vec<String>>> {
        self.old_properties.as_ref().map(policy_vars)
    }
}

/// The `GUARD_*` variables of `properties`' `Policy`, or every problem with
/// its shape.
fn policy_vars(properties: &Value) -> Result<BTreeMap<String, String>, Vec<String>> {
    let Some(policy) = properties.get(POLICY_PROPERTY) else {
        return Err(vec![format!(
            "the resource has no `{POLICY_PROPERTY}` property (a map of `GUARD_*` settings)"
        )]);
    };
    let Some(policy) = policy.as_object() else {
        return Err(vec![format!(
            "the `{POLICY_PROPERTY}` property must be a map of `GUARD_*` settings to strings"
        )]);
    };
    let mut vars = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in policy {
        if !key.starts_with(settings::PREFIX) {
            problems.push(format!(
                "`{POLICY_PROPERTY}` key `{key}` is not a `GUARD_*` setting"
            ));
            continue;
        }
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => {
                problems.push(format!(
                    "`{POLICY_PROPERTY}` value of `{key}` is not a string"
                ));
                continue;
            }
        };
        vars.insert(key.clone(), text);
    }
    if problems.is_empty() {
        Ok(vars)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    const CREATE: &str = include_str!("../../../events/stack-create.json");
    const UPDATE: &str = include_str!("../../../events/stack-update.json");
    const DELETE: &str = include_str!("../../../events/stack-delete.json");

    fn request(text: &str) -> Request {
        match serde_json::from_str::<Input>(text).unwrap() {
            Input::Request(request) => *request,
            Input::Refused(err) => panic!("{err}"),
        }
    }

    #[test]
    fn the_sample_events_parse() {
        let create = request(CREATE);
        assert_eq!(create.request_type, RequestType::Create);
        assert_eq!(create.physical_resource_id, None);
        assert_eq!(create.logical_resource_id, "Guard");
        assert_eq!(
            create.policy_vars().unwrap()["GUARD_CLUSTER"],
            "prod".to_owned()
        );
        let update = request(UPDATE);
        assert_eq!(update.request_type, RequestType::Update);
        assert_eq!(
            update.physical_resource_id.as_deref(),
            Some("scaling-guard-prod")
        );
        assert_eq!(
            update.old_policy_vars().unwrap().unwrap()["GUARD_CLUSTER"],
            "prod".to_owned()
        );
        let delete = request(DELETE);
        assert_eq!(delete.old_policy_vars(), None);
        assert_eq!(delete.request_type, RequestType::Delete);
        assert!(delete.response_url.starts_with("https://"));
    }

    #[test]
    fn a_payload_that_is_no_request_is_refused_clearly() {
        let input: Input =
            serde_json::from_value(json!({"detail-type": "Scheduled Event"})).unwrap();
        let Input::Refused(err) = input else { panic!() };
        assert!(
            err.to_string()
                .starts_with("event is not a CloudFormation custom resource request: "),
            "{err}"
        );
        let mut event: Value = serde_json::from_str(CREATE).unwrap();
        event["RequestType"] = "Replace".into();
        assert!(matches!(Input::from(event), Input::Refused(_)));
    }

    #[test]
    fn every_problem_with_the_policy_property_is_listed() {
        let mut create = request(CREATE);
        create.properties =
            json!({"Policy": {"Cluster": "prod", "GUARD_MODE": ["audit"], "GUARD_MAX_VCPUS": 8}});
        assert_eq!(
            create.policy_vars().unwrap_err(),
            vec![
                "`Policy` key `Cluster` is not a `GUARD_*` setting".to_owned(),
                "`Policy` value of `GUARD_MODE` is not a string".to_owned(),
            ]
        );
        create.properties = json!({"ServiceToken": "arn"});
        assert_eq!(
            create.policy_vars().unwrap_err(),
            vec!["the resource has no `Policy` property (a map of `GUARD_*` settings)".to_owned()]
        );
    }
}
