"""The SMS surface (seed 004): sender identities verified by a carrier, and SMS over SMPP with receipts."""
