//! The `password-reset-confirm` Lambda function (its row in `tokengate::routes`).
use tokengate::{handlers, lambda};

fn main() -> Result<(), lambda::Error> {
    lambda::run(lambda::serve(handlers::password_reset_confirm))
}
