//! Notification delivery: in-app, e-mail over SMTP and webhooks, behind a domain trait.
//!
//! Owns: talking to mail relays and webhook endpoints, retries and delivery state. Must not:
//! decide who is notified of what; the domain makes that decision.
