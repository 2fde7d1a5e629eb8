/*! Menus on a screen and the keys that pick one of their options: numbered menus
(`› 1. Trust and continue` / `  2. Back`) and lists drawn without numbers, whose options line up
under the highlighted one (`❯ No, exit` / `  Yes, I trust this folder`).

Agent CLIs draw their dialogs as options with a selector glyph in front of the highlighted one.
Whether a digit selects an option differs between CLIs and versions (and a list without numbers
has none), so [`Menu::keys_to`] moves from the highlighted option with `Up`/`Down` and confirms
with `Enter`, which every menu understands.
*/

use regex::Regex;

/// One numbered option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    pub number: u32,
    /// The option's text after `N. `.
    pub label: String,
    /// Where it is in the lines the menu was read from.
    pub line: usize,
    pub highlighted: bool,
}

/// Options numbered 1, 2, 3 … in order, as drawn; other lines (descriptions) may sit between.
/// A list drawn without numbers gets them from its order, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    options: Vec<MenuOption>,
}

/// A description line between two options is fine; more than this many is a different block.
const MAX_GAP: usize = 3;

/// Reads numbered menus; built once from the selector glyphs of a rule book.
#[derive(Debug, Clone)]
pub struct MenuReader {
    option: Regex,
    /// A highlighted entry of a list without numbers: indent, selector, label.
    list_entry: Regex,
}

impl MenuReader {
    pub fn new(selectors: &[String]) -> Self {
        let alternatives: Vec<String> = selectors.iter().map(|s| regex::escape(s)).collect();
        let selector = if alternatives.is_empty() {
            String::from("[^\\s\\S]")
        } else {
            alternatives.join("|")
        };
        let option = Regex::new(&format!(
            r"^\s*(?:(?P<selector>{selector})\s*)?(?P<number>\d{{1,2}})\.\s+(?P<label>\S.*?)\s*$"
        ))
        .expect("escaped selectors always form a valid pattern");
        let list_entry = Regex::new(&format!(
            r"^(?P<indent>\s*)(?:{selector})\s+(?P<label>\S.*?)\s*$"
        ))
        .expect("escaped selectors always form a valid pattern");
        Self { option, list_entry }
    }

    /// Whether `line` is drawn like a menu option (`› 2. No`).
    pub fn is_option(&self, line: &str) -> bool {
        self.option.is_match(line)
    }

    /// The first menu of at least two options at or below `lines[from]`.
    pub fn below(&self, lines: &[String], from: usize) -> Option<Menu> {
        let mut current: Vec<MenuOption> = Vec::new();
        let mut gap = 0;
        for (index, line) in lines.iter().enumerate().skip(from) {
            let Some(option) = self.option(line, index) else {
                gap += 1;
                if !current.is_empty() && gap > MAX_GAP {
                    if current.len() >= 2 {
                        break;
                    }
                    current.clear();
                }
                continue;
            };
            gap = 0;
            let next = current.last().map_or(1, |o| o.number + 1);
            if option.number == next {
                current.push(option);
            } else if current.len() >= 2 {
                break;
            } else if option.number == 1 {
                current = vec![option];
            } else {
                current.clear();
            }
        }
        (current.len() >= 2).then_some(Menu { options: current })
    }

    /// The first list of at least two options drawn without numbers at or below `lines[from]`:
    /// a highlighted line (`❯ No, exit`) and the lines right above and below it whose text starts
    /// in the column its label starts in (`  Yes, I trust this folder`).
    pub fn list_below(&self, lines: &[String], from: usize) -> Option<Menu> {
        let (highlighted, column) = (from..lines.len()).find_map(|index| {
            let line = &lines[index];
            if self.is_option(line) {
                return None;
            }
            let caps = self.list_entry.captures(line)?;
            let label_start = caps.name("label")?.start();
            Some((index, line[..label_start].chars().count()))
        })?;
        let aligned = |index: usize| {
            let line = &lines[index];
            let indent = line.chars().take_while(|c| c.is_whitespace()).count();
            indent == column && line.chars().count() > column
        };
        let first = (from..highlighted)
            .rev()
            .take_while(|&i| aligned(i))
            .last()
            .unwrap_or(highlighted);
        let last = (highlighted + 1..lines.len())
            .take_while(|&i| aligned(i))
            .last()
            .unwrap_or(highlighted);
        if first == last {
            return None;
        }
        let options = (first..=last)
            .zip(1..)
            .map(|(index, number)| MenuOption {
                number,
                label: lines[index].chars().skip(column).collect::<String>(),
                line: index,
                highlighted: index == highlighted,
            })
            .collect();
        Some(Menu { options })
    }

    /// The first numbered menu at or below `lines[from]`, else the first list without numbers.
    pub fn any_below(&self, lines: &[String], from: usize) -> Option<Menu> {
        self.below(lines, from)
            .or_else(|| self.list_below(lines, from))
    }

    /// `line` read as a menu option, if it is drawn like one; `index` is where it is.
    pub fn option(&self, line: &str, index: usize) -> Option<MenuOption> {
        let caps = self.option.captures(line)?;
        Some(MenuOption {
            number: caps["number"].parse().ok()?,
            label: caps["label"].to_string(),
            line: index,
            highlighted: caps.name("selector").is_some(),
        })
    }
}

impl Menu {
    pub fn options(&self) -> &[MenuOption] {
        &self.options
    }

    pub fn highlighted(&self) -> Option<&MenuOption> {
        self.options.iter().find(|o| o.highlighted)
    }

    pub fn option(&self, number: u32) -> Option<&MenuOption> {
        self.options.iter().find(|o| o.number == number)
    }

    /// The first option whose label satisfies `matches`.
    pub fn find(&self, matches: impl Fn(&str) -> bool) -> Option<&MenuOption> {
        self.options.iter().find(|o| matches(&o.label))
    }

    /// `Up`/`Down` from the highlighted option to option `number`, then `Enter`; `None` when no
    /// option is highlighted or `number` is not in the menu.
    pub fn keys_to(&self, number: u32) -> Option<Vec<String>> {
        let from = self.options.iter().position(|o| o.highlighted)?;
        let to = self.options.iter().position(|o| o.number == number)?;
        let step = if to > from { "Down" } else { "Up" };
        let mut keys = vec![step.to_string(); from.abs_diff(to)];
        keys.push("Enter".to_string());
        Some(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    fn reader() -> MenuReader {
        MenuReader::new(&["›".into(), "❯".into(), ">".into()])
    }

    #[test]
    fn options_with_descriptions_between_them_form_one_menu() {
        let screen = lines(
            "  Choose how you want to use Codex.\n> 1. Sign in with ChatGPT\n     Usage included\n  2. Sign in with Device Code\n     Sign in from another device\n  3. Sign in another way\n  Press enter to continue",
        );
        let menu = reader().below(&screen, 0).unwrap();
        let labels: Vec<&str> = menu.options().iter().map(|o| o.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Sign in with ChatGPT",
                "Sign in with Device Code",
                "Sign in another way"
            ]
        );
        assert_eq!(menu.highlighted().unwrap().number, 1);
    }

    #[test]
    fn keys_move_from_the_highlighted_option_then_confirm() {
        let screen = lines("  1. Yes\n› 2. Always\n  3. No");
        let menu = reader().below(&screen, 0).unwrap();
        assert_eq!(menu.keys_to(2).unwrap(), ["Enter"]);
        assert_eq!(menu.keys_to(3).unwrap(), ["Down", "Enter"]);
        assert_eq!(menu.keys_to(1).unwrap(), ["Up", "Enter"]);
        assert_eq!(menu.keys_to(4), None);
    }

    #[test]
    fn without_a_highlighted_option_there_are_no_keys() {
        let screen = lines("1. Fix the parser\n2. Add tests");
        let menu = reader().below(&screen, 0).unwrap();
        assert!(menu.highlighted().is_none());
        assert_eq!(menu.keys_to(1), None);
    }

    #[test]
    fn a_lone_numbered_line_is_not_a_menu() {
        let screen = lines("› 1. Trust and continue\n  enter continue");
        assert_eq!(reader().below(&screen, 0), None);
    }

    #[test]
    fn the_search_starts_at_the_given_line() {
        let screen = lines("1. old\n2. prose\nQuestion?\n❯ 1. Yes\n  2. No");
        let menu = reader().below(&screen, 2).unwrap();
        assert_eq!(menu.options()[0].line, 3);
        assert!(menu.options()[0].highlighted);
    }

    #[test]
    fn option_lines_are_told_from_a_prompt_with_text() {
        assert!(reader().is_option("› 1. Trust and continue"));
        assert!(reader().is_option("  2. Back to Agent Command Center"));
        assert!(!reader().is_option("› Ask Codex to do anything"));
        assert!(!reader().is_option("› 1.5 is the version"));
    }

    #[test]
    fn a_list_without_numbers_is_read_from_its_alignment() {
        let screen = lines(
            " Security guide\n ❯ No, exit\n   Yes, I trust this folder\n Enter to confirm · Esc to cancel",
        );
        let menu = reader().list_below(&screen, 0).unwrap();
        let labels: Vec<&str> = menu.options().iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["No, exit", "Yes, I trust this folder"]);
        assert_eq!(menu.highlighted().unwrap().number, 1);
        assert_eq!(menu.keys_to(2).unwrap(), ["Down", "Enter"]);
    }

    #[test]
    fn options_above_the_highlighted_entry_of_a_list_count_too() {
        let screen = lines(
            "  Do you want to use this API key?\n    Yes\n  ❯ No (recommended)\n  Enter to confirm",
        );
        let menu = reader().list_below(&screen, 0).unwrap();
        assert_eq!(menu.option(1).unwrap().label, "Yes");
        assert_eq!(menu.highlighted().unwrap().label, "No (recommended)");
        assert_eq!(menu.keys_to(1).unwrap(), ["Up", "Enter"]);
    }

    #[test]
    fn a_lone_selected_line_or_a_prompt_is_not_a_list() {
        assert_eq!(reader().list_below(&lines("❯ say hello\nhello"), 0), None);
        assert_eq!(reader().list_below(&lines("───\n❯\n───"), 0), None);
        let above_the_start = lines("   Yes\n ❯ No");
        assert_eq!(reader().list_below(&above_the_start, 1), None);
    }

    #[test]
    fn any_below_prefers_a_numbered_menu() {
        let numbered =
            lines("  Do you want to use this API key?\n    1. Yes\n  ❯ 2. No (recommended)");
        let menu = reader().any_below(&numbered, 0).unwrap();
        assert_eq!(menu.option(1).unwrap().label, "Yes");
        let unnumbered = lines("    Yes\n  ❯ No (recommended)");
        assert_eq!(
            reader().any_below(&unnumbered, 0).unwrap().options().len(),
            2
        );
    }

    #[test]
    fn a_numbering_that_restarts_begins_a_new_menu() {
        let screen = lines("2. stray\n1. Yes\n› 2. No");
        let menu = reader().below(&screen, 0).unwrap();
        assert_eq!(menu.option(2).unwrap().label, "No");
        assert_eq!(menu.options().len(), 2);
    }
}
