//! `edigate as2 keygen`: our AS2 key pair and a self-signed certificate, for onboarding a
//! partner: the certificate goes to the partner, the key stays with the gateway.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Arguments of `edigate as2`.
#[derive(Debug, Args)]
pub struct As2Args {
    #[command(subcommand)]
    command: As2Command,
}

#[derive(Debug, Subcommand)]
enum As2Command {
    /// Create a key pair and a self-signed certificate: DIR/key.pem and DIR/cert.pem.
    Keygen(KeygenArgs),
}

/// Arguments of `edigate as2 keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The certificate's subject (CN), e.g. our AS2 id.
    #[arg(long)]
    name: String,
    /// Where to write key.pem and cert.pem (created if missing; existing files are not
    /// replaced).
    #[arg(long)]
    out: PathBuf,
    /// How many days the certificate is valid.
    #[arg(long, default_value_t = 730)]
    days: u32,
    /// An environment variable holding a password to encrypt the key with (AES-256).
    #[arg(long)]
    password_env: Option<String>,
}

/// Runs `edigate as2`: exit 0, 1 when the key cannot be made, 2 on usage or I/O errors.
pub fn run(args: &As2Args) -> ExitCode {
    match &args.command {
        As2Command::Keygen(k) => match keygen(k) {
            Ok(()) => ExitCode::SUCCESS,
            Err((code, message)) => {
                eprintln!("edigate as2 keygen: {message}");
                ExitCode::from(code)
            }
        },
    }
}

fn keygen(args: &KeygenArgs) -> Result<(), (u8, String)> {
    let usage = |m: String| (2u8, m);
    if args.name.trim().is_empty() || args.days == 0 {
        return Err(usage("give a --name and a --days above 0".into()));
    }
    let password = match &args.password_env {
        None => None,
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| usage(format!("{var} is not set (or empty)")))?,
        ),
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| usage(format!("{}: {e}", args.out.display())))?;
    let (key_path, cert_path) = (args.out.join("key.pem"), args.out.join("cert.pem"));
    for p in [&key_path, &cert_path] {
        if p.exists() {
            return Err(usage(format!(
                "{} exists: keys are not replaced; choose another --out",
                p.display()
            )));
        }
    }
    let identity =
        as2::Identity::generate(args.name.trim(), args.days).map_err(|e| (1, e.to_string()))?;
    let key = identity
        .key_pem(password.as_deref().map(str::as_bytes))
        .map_err(|e| (1, e.to_string()))?;
    let cert = identity.certificate();
    let cert_pem = cert.to_pem().map_err(|e| (1, e.to_string()))?;
    write_new(&key_path, &key, 0o600).map_err(usage)?;
    write_new(&cert_path, &cert_pem, 0o644).map_err(usage)?;
    let fingerprint = cert.fingerprint_sha256().map_err(|e| (1, e.to_string()))?;
    println!(
        "key:         {} (keep it here; mode 0600)",
        key_path.display()
    );
    println!(
        "certificate: {} (send it to the partner)",
        cert_path.display()
    );
    println!("subject:     CN={}", args.name.trim());
    println!("valid until: {}", cert.not_after());
    println!("SHA-256:     {fingerprint}");
    Ok(())
}

/// Writes a file that must not exist yet, with `mode`, and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}
