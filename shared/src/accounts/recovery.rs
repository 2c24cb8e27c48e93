//! Getting back in and proving an address: password reset and email verification.
//!
//! A request only writes an outbox item (the mailer makes the code and sends it, off the
//! request path), so a reset request does the same single write whether the address has an
//! account or not. Redeeming a code checks its tag first (a garbled or forged code costs no
//! store read), then the live record of its account and purpose, then uses it up in the same
//! transaction as the change it makes.

use super::{Accounts, Grant};
use crate::codes::{CodeCheck, CodePurpose};
use crate::credentials::{Email, NewPassword};
use crate::ids::{CodeId, UserId};
use crate::problem::ApiError;
use crate::records::MailRequest;
use crate::records::Origin;
use crate::retry::Attempts;
use crate::store::Redemption;
use crate::tokens::IssuedToken;

use crate::records::UserProfile;

/// How many times a reset re-reads an account whose password changed while it hashed.
const RESET_ATTEMPTS: u32 = 3;

impl Accounts {
    /// Asks for a reset message to `email`: one outbox write, whether or not an account has
    /// the address (the mailer finds out, and sends nothing when none has).
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(&self, email: Email) -> Result<(), ApiError> {
        let request = MailRequest::new(CodePurpose::PasswordReset, email, None, self.clock().now());
        self.store.request_mail(&request).await?;
        tracing::info!("password reset asked for");
        Ok(())
    }

    /// Asks for a new verification message for the caller's address (a valid token).
    #[tracing::instrument(skip_all)]
    pub async fn request_email_verification(
        &self,
        presented: Option<String>,
    ) -> Result<(), ApiError> {
        let (account, _) = self.account_of(presented).await?;
        let request = MailRequest::new(
            CodePurpose::EmailVerification,
            account.profile.email.clone(),
            Some(account.profile.id),
            self.clock().now(),
        );
        self.store.request_mail(&request).await?;
        tracing::info!(user = %account.profile.id, "email verification asked for");
        Ok(())
    }

    /// The account and code id a presented code of `purpose` names, if it may be redeemed
    /// now; every refusal is the one [`ApiError::InvalidCode`], and a wrong tag on a code id
    /// counts as a wrong try at it.
    async fn redeemable(
        &self,
        code: &str,
        purpose: CodePurpose,
    ) -> Result<(UserId, CodeId), ApiError> {
        let (user, code_id) = match self.tokens.keys().check_code(code, purpose).await {
            CodeCheck::Authentic { user, code_id } => (user, code_id),
            CodeCheck::WrongTag { user, code_id } => {
                self.store.count_wrong_try(&user, purpose, &code_id).await?;
                tracing::info!("code refused: wrong code");
                return Err(ApiError::InvalidCode);
            }
            CodeCheck::Refused => return Err(ApiError::InvalidCode),
        };
        let live = self.store.code_record(&user, purpose).await?;
        if !live.is_some_and(|record| record.accepts(&code_id, self.clock().now())) {
            tracing::info!("code refused: used, expired, dead or superseded");
            return Err(ApiError::InvalidCode);
        }
        Ok((user, code_id))
    }

    /// Sets a new password with a reset code: the code is used up, every session revoked, any
    /// login lock cleared and the email marked verified, in one write; then a new token for
    /// `origin`'s application.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(
        &self,
        code: &str,
        new_password: &NewPassword,
        origin: &Origin,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let (user, code_id) = self.redeemable(code, CodePurpose::PasswordReset).await?;
        let profile = self
            .store
            .find_profile(&user)
            .await?
            .ok_or(ApiError::InvalidCode)?;
        new_password.check_against(&profile.email)?;
        let new_hash = self.hasher.hash(new_password.password()).await?;
        let mut attempts = Attempts::new(RESET_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            let mut account = self
                .store
                .find_account(&profile.email)
                .await?
                .ok_or(ApiError::InvalidCode)?;
            match self
                .store
                .redeem_reset(
                    &user,
                    &profile.email,
                    &code_id,
                    self.clock().now(),
                    account.password_version,
                    &new_hash,
                )
                .await?
            {
                Redemption::Redeemed { password_version } => {
                    account.password_version = password_version;
                    account.profile.email_verified = true;
                    tracing::info!(user = %user, "password reset; every session revoked");
                    let token = self.grant(&account, origin, Grant::New).await?;
                    return Ok((account.profile, token));
                }
                Redemption::CodeRefused => return Err(ApiError::InvalidCode),
                // A password change landed between the read and the write: read again.
                Redemption::PasswordChanged => continue,
            }
        }
    }

    /// Marks the address of the code's account verified; the code is used up.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, code: &str) -> Result<(), ApiError> {
        let (user, code_id) = self
            .redeemable(code, CodePurpose::EmailVerification)
            .await?;
        let profile = self
            .store
            .find_profile(&user)
            .await?
            .ok_or(ApiError::InvalidCode)?;
        match self
            .store
            .redeem_verification(&user, &profile.email, &code_id, self.clock().now())
            .await?
        {
            Redemption::Redeemed { .. } => {
                tracing::info!(user = %user, "email verified");
                Ok(())
            }
            Redemption::CodeRefused | Redemption::PasswordChanged => Err(ApiError::InvalidCode),
        }
    }
}
