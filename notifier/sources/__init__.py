"""Sources turn raw input (an IMAP mailbox, ticket export files) into ``Resolution`` values."""
