//! The `mailer` Lambda function (its row in `tokengate::routes`).
use tokengate::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::run(lambda::serve_mailer())
}
