//! Creates the tables named by `USERS_TABLE`, `TOKENS_TABLE` and `OUTBOX_TABLE` unless they
//! exist.
//! Deployed stacks get theirs from template.yaml; this is for DynamoDB Local.

use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(users), Ok(tokens), Ok(outbox)) = (
        std::env::var("USERS_TABLE"),
        std::env::var("TOKENS_TABLE"),
        std::env::var("OUTBOX_TABLE"),
    ) else {
        eprintln!("create-tables: USERS_TABLE, TOKENS_TABLE and OUTBOX_TABLE must be set");
        return ExitCode::FAILURE;
    };
    let names = tokengate::store::TableNames {
        users,
        tokens,
        outbox,
    };
    let client = match tokengate::store::connect(Duration::from_secs(10), None).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!("create-tables: {error}");
            return ExitCode::FAILURE;
        }
    };
    match tokengate::store::create_tables(&client, &names).await {
        Ok(()) => {
            println!(
                "tables ready: {}, {}, {}",
                names.users, names.tokens, names.outbox
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("create-tables: {error}");
            ExitCode::FAILURE
        }
    }
}
