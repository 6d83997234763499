//! Typed result objects and enums, as Rex's SDK returns them: `uname().kernel_name`,
//! `df()[0].mounted_on`, `entry.type()`, `e.kind == IoErrorKind::PermissionDenied`.
//!
//! A Rex script reads a result through property getters and converts it with `to_map()` and
//! `to_string()`; reading a field a map does not have gives `()` silently, so results are
//! typed values, not maps. One macro declares each type by its fields: the struct, its Rhai
//! name, a getter per field and `to_map()` come from the same list and cannot drift apart.
//! `to_string()` is the type's `Display`, which each area writes as Rex prints that type.
//!
//! An object is not JSON: the run's output and every rendering go through [`plain`], which
//! turns objects into maps (by their `to_map()`), so a result prints the same whether the
//! script returned the object or its map.

use rhai::{Array, Dynamic, Engine, Map};

/// One object or enum type: how to register it and how to turn a value of it into plain data.
pub(crate) struct Kind {
    pub(crate) register: fn(&mut Engine),
    /// The value as plain data, if it is of this type.
    pub(crate) plain: fn(&Dynamic) -> Option<Dynamic>,
}

/// Every object and enum type of every area. An area lists its kinds in its own module.
const AREAS: &[&[Kind]] = &[
    super::errors::KINDS,
    super::exec::KINDS,
    super::fs::KINDS,
    super::entries::KINDS,
    super::handles::KINDS,
    super::formats::KINDS,
    super::system::KINDS,
    super::process::KINDS,
    super::disk::KINDS,
    super::net::KINDS,
    super::common::KINDS,
];

/// Registers every object and enum type, with its getters, `to_map`, `to_string`, and for
/// enums their constants and comparisons.
pub(crate) fn register(engine: &mut Engine) {
    for kind in AREAS.iter().flat_map(|a| a.iter()) {
        (kind.register)(engine);
    }
}

/// `value` with every object in it (at any depth, in arrays and maps) replaced by its map and
/// every enum by its name: data that serializes to JSON and renders as a table.
pub(crate) fn plain(value: &Dynamic) -> Dynamic {
    if let Some(arr) = value.read_lock::<Array>() {
        return Dynamic::from_array(arr.iter().map(plain).collect());
    }
    if let Some(map) = value.read_lock::<Map>() {
        return Dynamic::from_map(map.iter().map(|(k, v)| (k.clone(), plain(v))).collect());
    }
    if is_builtin(value) {
        return value.clone();
    }
    AREAS
        .iter()
        .flat_map(|a| a.iter())
        .find_map(|kind| (kind.plain)(value))
        .unwrap_or_else(|| value.clone())
}

/// Rhai's own value types, which are plain already.
fn is_builtin(value: &Dynamic) -> bool {
    value.is_unit()
        || value.is_bool()
        || value.is_int()
        || value.is_float()
        || value.is_string()
        || value.is_char()
        || value.is_blob()
        || value.is_timestamp()
        || value.is_fnptr()
}

/// Whether `value` holds a plain Rhai value or an object: objects need [`plain`] before they
/// can be serialized. Cheap, so output paths can skip the copy in the common case.
pub(crate) fn needs_plain(value: &Dynamic) -> bool {
    if let Some(arr) = value.read_lock::<Array>() {
        return arr.iter().any(needs_plain);
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map.values().any(needs_plain);
    }
    !is_builtin(value)
}

/// A field's value as a script value: what its getter returns.
pub(crate) trait Field {
    fn field(&self) -> Dynamic;
}

macro_rules! field_by_clone {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn field(&self) -> Dynamic {
                Dynamic::from(self.clone())
            }
        }
    )*};
}
field_by_clone!(bool, i64, f64, String, Array, Map, Dynamic);

impl<T: Field> Field for Option<T> {
    fn field(&self) -> Dynamic {
        self.as_ref().map_or(Dynamic::UNIT, Field::field)
    }
}

/// Declares a result type: `object! { /// doc \n pub(crate) struct UnameInfo as
/// "rust_safe_system_info::uname::common::UnameInfo" { kernel_name: String, ... } }`. The
/// literal is the name `type_of` gives, Rex's own (its Rust path), so a script that tests a
/// result's type behaves the same. Field types implement [`Field`] (a nested object is a `Dynamic`). The
/// type must implement `Display` (its `to_string()`). The struct gets `KIND`, for its area's
/// `KINDS` list. A field named after a Rust keyword is written `r#type`; its getter is `type`.
/// Fields Tollgate adds to Rex's go in a block after the struct, `extra { headers: Map }`:
/// they have getters but stay out of `to_map()`, which keeps Rex's shape (and so does the
/// run's JSON output of the object).
macro_rules! object {
    ($(#[$doc:meta])* $vis:vis struct $name:ident as $type_name:literal { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $crate::bindings::objects::object! {
            $(#[$doc])* $vis struct $name as $type_name { $($(#[$fdoc])* $field: $ty),* } extra {}
        }
    };
    ($(#[$doc:meta])* $vis:vis struct $name:ident as $type_name:literal { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? } extra { $($(#[$xdoc:meta])* $xfield:ident : $xty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            $($(#[$fdoc])* pub(crate) $field: $ty,)*
            $($(#[$xdoc])* pub(crate) $xfield: $xty,)*
        }

        impl $name {
            /// The name `type_of` gives: Rex's.
            pub(crate) const TYPE_NAME: &'static str = $type_name;

            /// The fields as a map, nested objects as maps: the script's `to_map()`.
            pub(crate) fn to_map(&self) -> rhai::Map {
                let mut m = rhai::Map::new();
                $(
                    m.insert(
                        stringify!($field).trim_start_matches("r#").into(),
                        $crate::bindings::objects::plain(
                            &$crate::bindings::objects::Field::field(&self.$field),
                        ),
                    );
                )*
                m
            }

            pub(crate) const KIND: $crate::bindings::objects::Kind = $crate::bindings::objects::Kind {
                register: |engine: &mut rhai::Engine| {
                    engine.register_type_with_name::<$name>($name::TYPE_NAME);
                    $(
                        engine.register_get(
                            stringify!($field).trim_start_matches("r#"),
                            |o: &mut $name| $crate::bindings::objects::Field::field(&o.$field),
                        );
                    )*
                    $(
                        engine.register_get(
                            stringify!($xfield).trim_start_matches("r#"),
                            |o: &mut $name| $crate::bindings::objects::Field::field(&o.$xfield),
                        );
                    )*
                    engine.register_fn("to_map", |o: &mut $name| o.to_map());
                    engine.register_fn("to_string", |o: &mut $name| o.to_string());
                    engine.register_fn("to_debug", |o: &mut $name| o.to_string());
                },
                plain: |v: &rhai::Dynamic| {
                    v.read_lock::<$name>().map(|o| rhai::Dynamic::from_map(o.to_map()))
                },
            };
        }
    };
}
pub(crate) use object;

/// `Display` as the type's `TYPE_NAME`, for types Rex gives no `to_string` of their own
/// (Rhai then prints the type name): `display_as_type_name!(Match, WordCount);`.
macro_rules! display_as_type_name {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(<$t>::TYPE_NAME)
            }
        }
    )*};
}
pub(crate) use display_as_type_name;

/// Declares an enum that scripts see as constants of a module (`IoErrorKind::NotFound`,
/// `State::Sleep`), compared with `==` and `!=` and printed by `to_string()` as its name.
/// `enumeration! { pub(crate) enum State as "State" in "State" { Running, Sleep } }`: the Rust
/// type, the type name `type_of` gives, and the module that holds the constants. Where Rex's
/// constant is not named as the value prints, the constant's name follows the variant:
/// `{ Tcp = "TCP", SynSent = "SYN_SENT" }` gives `TcpState::SYN_SENT`, which prints
/// `SynSent` (a string compares equal to either name).
macro_rules! enumeration {
    ($(#[$doc:meta])* $vis:vis enum $name:ident as $type_name:literal in $module:literal { $($variant:ident $(= $constant:literal)?),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($variant,)* }

        impl $name {
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub(crate) fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant),)* }
            }

            /// The constant's name in the module: the variant's, unless given.
            pub(crate) fn constant(self) -> &'static str {
                match self { $($name::$variant => { let _c = stringify!($variant); $(let _c = $constant;)? _c })* }
            }

            pub(crate) const KIND: $crate::bindings::objects::Kind = $crate::bindings::objects::Kind {
                register: |engine: &mut rhai::Engine| {
                    engine.register_type_with_name::<$name>($type_name);
                    let mut module = rhai::Module::new();
                    for v in $name::ALL {
                        module.set_var(v.constant(), *v);
                    }
                    engine.register_static_module($module, module.into());
                    engine.register_fn("==", |a: &mut $name, b: $name| *a == b);
                    engine.register_fn("!=", |a: &mut $name, b: $name| *a != b);
                    // By name, as a script that compares with a string expects.
                    engine.register_fn("==", |a: &mut $name, b: rhai::ImmutableString| a.name() == b.as_str() || a.constant() == b.as_str());
                    engine.register_fn("!=", |a: &mut $name, b: rhai::ImmutableString| a.name() != b.as_str() && a.constant() != b.as_str());
                    engine.register_fn("to_string", |a: &mut $name| a.name().to_owned());
                    engine.register_fn("to_debug", |a: &mut $name| a.name().to_owned());
                },
                plain: |v: &rhai::Dynamic| {
                    v.read_lock::<$name>().map(|o| rhai::Dynamic::from(o.name().to_owned()))
                },
            };
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use enumeration;
