//! Words: the prompt catalogs (English, Spanish, TTY text) and turning values into
//! speech.

pub mod prompts;
pub mod speech;

/// Declares a fixed set of words as an enum, once: its variants, the word each is
/// written as (in flows, the extract, stored sessions, the database), `WORDS`, the list
/// the flow compiler checks a flow's `value`s and outcomes against, and `words()` for
/// error messages. Written as its word; read from its word or, for sessions stored
/// before the words were used there, its variant's name (`Custodial`).
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
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

            /// The accepted words, for error messages.
            pub fn words() -> String {
                Self::WORDS.join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                // A visitor, so a word read from a stored session is matched where it
                // lies, without a String of its own.
                struct Word;
                impl serde::de::Visitor<'_> for Word {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", $name::WORDS.join(", "))
                    }

                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::parse(s)
                            .or_else(|| match s {
                                $(stringify!($variant) => Some($name::$variant),)+
                                _ => None,
                            })
                            .ok_or_else(|| E::unknown_variant(s, $name::WORDS))
                    }
                }
                d.deserialize_str(Word)
            }
        }
    };
}

pub(crate) use word_enum;
