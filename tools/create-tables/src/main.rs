//! Creates the tables named by `USERS_TABLE` and `TOKENS_TABLE` unless they exist.
//! Deployed stacks get theirs from template.yaml; this is for DynamoDB Local.

use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(users), Ok(tokens)) = (std::env::var("USERS_TABLE"), std::env::var("TOKENS_TABLE"))
    else {
        eprintln!("create-tables: USERS_TABLE and TOKENS_TABLE must be set");
        return ExitCode::FAILURE;
    };
    let client = match tokengate::store::connect(Duration::from_secs(10), None).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!("create-tables: {error}");
            return ExitCode::FAILURE;
        }
    };
    match tokengate::store::create_tables(&client, &users, &tokens).await {
        Ok(()) => {
            println!("tables ready: {users}, {tokens}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("create-tables: {error}");
            ExitCode::FAILURE
        }
    }
}
