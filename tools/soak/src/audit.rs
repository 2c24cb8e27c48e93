//! The end-of-run audit of the tables: accounts whole, revoked tokens dead, no secret in clear.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use tokengate::keyring::{LEGACY_TOKEN_LEN, PresentedToken, TOKEN_LEN};
use tokengate::store::Client;

use crate::traffic::{Secrets, Shared};

/// What the audit found.
pub struct Findings {
    /// Items read, by table.
    pub items: BTreeMap<String, usize>,
    /// Accounts (`user#` items) and email items (`email#`) read.
    pub accounts: usize,
    /// Accounts without their email item, or email items without their account.
    pub orphans: Vec<String>,
    /// Revoked tokens checked over `GET /auth/verify`.
    pub revoked_checked: usize,
    /// Revoked tokens that still verified.
    pub revoked_alive: usize,
    /// Secrets looked for (passwords, tokens, codes).
    pub secrets_looked_for: usize,
    /// Items holding one in clear, as `table: attribute`.
    pub secrets_found: Vec<String>,
}

/// Every item of `table`.
async fn scan(
    client: &Client,
    table: &str,
) -> Result<Vec<std::collections::HashMap<String, AttributeValue>>, String> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "scanning {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(error)
                )
            })?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

/// The strings an attribute value holds, nested ones included.
fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) => out.push(text.clone()),
        AttributeValue::Ss(texts) => out.extend(texts.iter().cloned()),
        AttributeValue::B(bytes) => out.push(String::from_utf8_lossy(bytes.as_ref()).into_owned()),
        AttributeValue::L(values) => values.iter().for_each(|value| strings(value, out)),
        AttributeValue::M(map) => map.iter().for_each(|(key, value)| {
            out.push(key.clone());
            strings(value, out);
        }),
        _ => {}
    }
}

/// Whether `text` is, or holds as a word, one of `secrets`; holds any token text at all; or a
/// soak password.
fn holds_secret(text: &str, secrets: &HashSet<&str>) -> bool {
    text.contains("soak-pw-")
        || secrets.contains(text)
        || text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .any(|word| secrets.contains(word))
        || holds_token(text)
}

/// Whether a well-formed token of either form starts anywhere in `text`. The prefix alone is not
/// enough: the tables' ids are random URL-safe base64, so one in a few hundred thousand holds
/// `tg1_` or `tg2_` by chance (a 30-minute run stores ~100,000 of them).
fn holds_token(text: &str) -> bool {
    [("tg2_", TOKEN_LEN), ("tg1_", LEGACY_TOKEN_LEN)]
        .into_iter()
        .any(|(prefix, len)| {
            text.match_indices(prefix).any(|(at, _)| {
                text.get(at..at + len)
                    .is_some_and(|candidate| PresentedToken::parse(candidate).is_some())
            })
        })
}

/// Audits the three tables and the revoked tokens.
pub async fn run(shared: &Shared, client: &Client, tables: [&str; 3]) -> Result<Findings, String> {
    let (secret_set, revoked) = {
        let secrets = shared.secrets.lock().map_err(|_| "secrets poisoned")?;
        let Secrets {
            passwords,
            tokens,
            codes,
            revoked,
        } = &*secrets;
        let all: HashSet<String> = passwords
            .iter()
            .chain(tokens)
            .chain(codes)
            .cloned()
            .collect();
        (all, revoked.clone())
    };
    let looked_for: HashSet<&str> = secret_set.iter().map(String::as_str).collect();
    let mut findings = Findings {
        items: BTreeMap::new(),
        accounts: 0,
        orphans: Vec::new(),
        revoked_checked: 0,
        revoked_alive: 0,
        secrets_looked_for: looked_for.len(),
        secrets_found: Vec::new(),
    };

    let mut users = HashSet::new();
    let mut emails_of_users = HashSet::new();
    let mut email_items = HashSet::new();
    for table in tables {
        let items = scan(client, table).await?;
        findings.items.insert(table.to_owned(), items.len());
        for item in &items {
            for (name, value) in item {
                let mut texts = Vec::new();
                strings(value, &mut texts);
                if texts.iter().any(|text| holds_secret(text, &looked_for)) {
                    // Which item, by its key's kind (`token#`, `sessions`, ...), never the secret.
                    let kind = item
                        .get("sk")
                        .or_else(|| item.get("pk"))
                        .and_then(|key| key.as_s().ok())
                        .map(|key| key.split('#').next().unwrap_or_default().to_owned())
                        .unwrap_or_default();
                    findings
                        .secrets_found
                        .push(format!("{table}: {name} of a `{kind}` item"));
                }
            }
            if table == tables[0] {
                let pk = item
                    .get("pk")
                    .and_then(|pk| pk.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let email = item
                    .get("email")
                    .and_then(|email| email.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                if pk.starts_with("user#") {
                    users.insert(pk);
                    emails_of_users.insert(email);
                } else if let Some(address) = pk.strip_prefix("email#") {
                    email_items.insert(address.to_owned());
                }
            }
        }
    }
    findings.accounts = users.len();
    for email in emails_of_users.difference(&email_items) {
        findings
            .orphans
            .push(format!("an account of {email} has no email item"));
    }
    for email in email_items.difference(&emails_of_users) {
        findings
            .orphans
            .push(format!("the email item of {email} has no account"));
    }

    for token in revoked {
        let answer = shared
            .http
            .get(format!("{}/auth/verify", shared.api))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .map_err(|error| format!("verify: {error}"))?;
        let body: serde_json::Value = answer
            .json()
            .await
            .map_err(|error| format!("verify: {error}"))?;
        findings.revoked_checked += 1;
        if body["valid"] != false {
            findings.revoked_alive += 1;
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_found_whole_inside_text_and_any_token_or_soak_password_at_all() {
        let secrets: HashSet<&str> = ["c0de-XYZ_123"].into_iter().collect();
        assert!(holds_secret("c0de-XYZ_123", &secrets));
        assert!(holds_secret(
            "link: https://x.example/?code=c0de-XYZ_123&a=b",
            &secrets
        ));
        let key = tokengate::keyring::SigningKey::new(&[7; 32]).expect("a 32-byte key");
        let issued = key.token_for(
            tokengate::keyring::KeyId(3),
            &tokengate::ids::UserId::generate(),
            &tokengate::ids::TokenId::generate(),
        );
        let token = issued.expose().to_owned();
        let legacy = format!("tg1_{}", "A".repeat(LEGACY_TOKEN_LEN - 4));
        assert!(holds_secret(&token, &secrets));
        assert!(holds_secret(&format!("Bearer {token}"), &secrets));
        assert!(
            holds_secret(&format!("x{token}y"), &secrets),
            "inside other text"
        );
        assert!(holds_secret(&legacy, &secrets));
        assert!(holds_secret("old soak-pw-0123", &secrets));
        assert!(!holds_secret(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            &secrets
        ));
        assert!(!holds_secret("c0de-XYZ_1234", &secrets), "another word");
        assert!(
            !holds_secret("token#Qtg2_Zk9tg1_aaaaaaaaaaaa", &secrets),
            "an id that holds a token prefix by chance"
        );
        assert!(
            !holds_secret("tg2_AAAA", &secrets),
            "too short to be a token"
        );
        let undecodable = format!("tg2_{}B", "A".repeat(TOKEN_LEN - 5));
        assert!(
            !holds_secret(&format!("sk#{undecodable}"), &secrets),
            "a token's length of text after the prefix that is no token body"
        );
    }

    #[test]
    fn nested_attribute_values_are_all_read() {
        let value = AttributeValue::M(
            [(
                "live".to_owned(),
                AttributeValue::L(vec![AttributeValue::S("tg2_inner".into())]),
            )]
            .into(),
        );
        let mut found = Vec::new();
        strings(&value, &mut found);
        assert_eq!(found, ["live", "tg2_inner"]);
    }
}
