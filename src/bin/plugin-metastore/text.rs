//! Text for a terminal: stored and imported text is shown with what a
//! terminal would act on or hide escaped.

/// `s` with every [`hidden`] character escaped (`\u{1b}`, `\u{202e}`),
/// so stored text cannot move the cursor, recolour the terminal or
/// display as something else.
pub(crate) fn printable(s: &str) -> String {
    if !s.chars().any(hidden) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// A character a terminal would act on or not show: controls (C0, DEL,
/// C1: escape sequences, carriage return, backspace) and invisible format
/// characters (bidi overrides and isolates, zero-width characters, the
/// byte-order mark, interlinear annotation marks, tag characters), which
/// could make one row display another's id or status.
pub(crate) fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}
