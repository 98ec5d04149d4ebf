//! Words: the prompt catalogs (English, Spanish, TTY text) and turning values into
//! speech.

pub mod prompts;
pub mod speech;

/// Declares a fixed set of words as an enum, once: its variants, the word each is
/// written as (in flows, stored sessions, the database), and `WORDS`, the list the
/// flow compiler checks a flow's `value`s and outcomes against. Serialized as its word.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// Every value, in the declared order.
            pub const ALL: &[$name] = &[$($name::$variant),+];
            /// Every value's word, in the declared order.
            pub const WORDS: &[&str] = &[$($word),+];

            /// The word this value is written as.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// The value written as `s`, if any.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($word => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use word_enum;
