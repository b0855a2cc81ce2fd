//! `GUARD_CHAT_TOPIC_ARN` (issue 24, point 3): optional, an SNS topic's ARN.

use super::*;

fn vars(chat: &str) -> BTreeMap<String, String> {
    [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_CHAT_TOPIC_ARN", chat),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn a_chat_topic_is_read_and_blank_is_no_chat() {
    let chat = "arn:aws:sns:eu-west-1:123456789012:chat";
    assert_eq!(
        parse(vars(chat)).unwrap().chat_topic_arn.as_deref(),
        Some(chat)
    );
    assert_eq!(parse(vars(" ")).unwrap().chat_topic_arn, None);
}

#[test]
fn a_chat_topic_that_is_no_topic_arn_is_refused() {
    let err = parse(vars("arn:aws:sqs:eu-west-1:123456789012:chat")).unwrap_err();
    assert_eq!(
        err.problems,
        vec![
            "`GUARD_CHAT_TOPIC_ARN` is not an sns topic arn: `arn:aws:sqs:eu-west-1:123456789012:chat`"
                .to_owned()
        ]
    );
}
