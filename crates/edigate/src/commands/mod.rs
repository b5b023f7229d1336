//! One module per subcommand.

pub mod as2;
pub mod compose;
pub mod messages;
pub mod ops;
pub mod outbox_cmd;
pub mod parse;
pub mod partner;
pub mod partners;
pub mod replay;
pub mod reprocess;
pub mod send;
pub mod serve;
pub mod sftp;
pub mod status;
pub mod trace;
pub mod translate;
pub mod validate;

/// The whole input of a command: the file, or standard input for `-`.
pub fn read_input(file: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut input = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut input)?;
    } else {
        std::fs::File::open(file)?.read_to_end(&mut input)?;
    }
    Ok(input)
}
