"""Identity drivers: the LDAP directory (ldap3) and outgoing mail (smtplib)."""
