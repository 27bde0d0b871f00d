//! Struct member offsets from the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`), so the eBPF programs read kernel structs
//! without a hard-coded layout. A minimal reader: only what finding a
//! member's byte offset needs.

/// The kernel's BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// One member of a struct or union.
#[derive(Debug, Clone)]
struct Member {
    /// Offset of its name in the string section.
    name: u32,
    type_id: u32,
    bit_offset: u32,
}

/// One type: its kind, name, referenced type and members.
#[derive(Debug, Clone, Default)]
struct Type {
    kind: u32,
    /// Offset of its name in the string section.
    name: u32,
    /// The referenced type (typedef, const, …).
    target: u32,
    members: Vec<Member>,
}

/// Parsed BTF: types by id, names as offsets into the string section
/// (decoded only when compared: the kernel's BTF has ~100,000 types, and
/// allocating every name doubled the time `record` waits before its target
/// may run).
#[derive(Debug, Default)]
pub struct KernelBtf {
    types: Vec<Type>,
    strings: Vec<u8>,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

impl KernelBtf {
    /// Reads the running kernel's BTF.
    pub fn from_sys_fs() -> std::io::Result<Self> {
        let data = std::fs::read(VMLINUX_BTF)?;
        Self::parse(&data).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{VMLINUX_BTF} is not BTF this reader understands"),
            )
        })
    }

    /// Parses a little-endian BTF blob.
    pub fn parse(data: &[u8]) -> Option<Self> {
        if u16::from_le_bytes(data.get(0..2)?.try_into().ok()?) != BTF_MAGIC {
            return None;
        }
        let header_len = u32_at(data, 4)? as usize;
        let type_off = header_len + u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = header_len + u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let strings = data.get(str_off..str_off + str_len)?;
        let types_data = data.get(type_off..type_off + type_len)?;
        // Type id 0 is `void`.
        let mut btf = KernelBtf {
            types: vec![Type::default()],
            strings: strings.to_vec(),
        };
        let mut at = 0usize;
        while at + 12 <= types_data.len() {
            let name_off = u32_at(types_data, at)?;
            let info = u32_at(types_data, at + 4)?;
            let size_or_type = u32_at(types_data, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut ty = Type {
                kind,
                name: name_off,
                target: size_or_type,
                members: Vec::new(),
            };
            at += match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = at + i * 12;
                        let offset = u32_at(types_data, m + 8)?;
                        ty.members.push(Member {
                            name: u32_at(types_data, m)?,
                            type_id: u32_at(types_data, m + 4)?,
                            bit_offset: if kind_flag {
                                offset & 0xff_ffff
                            } else {
                                offset
                            },
                        });
                    }
                    vlen * 12
                }
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                _ => 0,
            };
            btf.types.push(ty);
        }
        Some(btf)
    }

    /// Whether the name at `offset` of the string section is `name`.
    fn name_is(&self, offset: u32, name: &str) -> bool {
        let rest = self.strings.get(offset as usize..).unwrap_or_default();
        rest.len() > name.len() && rest.starts_with(name.as_bytes()) && rest[name.len()] == 0
            || (name.is_empty() && rest.first().is_none_or(|&b| b == 0))
    }

    /// The first struct named `name`.
    fn struct_id(&self, name: &str) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.kind == KIND_STRUCT && !name.is_empty() && self.name_is(t.name, name))
            .map(|i| i as u32)
    }

    /// Follows typedefs and qualifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..16 {
            match self.types.get(id as usize).map(|t| t.kind) {
                Some(KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG) => {
                    id = self.types[id as usize].target
                }
                _ => break,
            }
        }
        id
    }

    /// `(bit offset, type id)` of member `name` of struct/union `id`,
    /// looking inside anonymous struct and union members.
    fn member(&self, id: u32, name: &str) -> Option<(u32, u32)> {
        let ty = self.types.get(self.resolve(id) as usize)?;
        for m in &ty.members {
            if self.name_is(m.name, name) {
                return Some((m.bit_offset, m.type_id));
            }
        }
        ty.members
            .iter()
            .filter(|m| self.name_is(m.name, ""))
            .find_map(|m| {
                let (inner, type_id) = self.member(m.type_id, name)?;
                Some((m.bit_offset + inner, type_id))
            })
    }

    /// Byte offset of a member path inside a named struct, e.g.
    /// `("task_struct", &["thread", "fsbase"])`.
    pub fn offset_of(&self, struct_name: &str, path: &[&str]) -> Option<u32> {
        let mut id = self.struct_id(struct_name)?;
        let mut bits = 0;
        for field in path {
            let (offset, type_id) = self.member(id, field)?;
            bits += offset;
            id = type_id;
        }
        (bits % 8 == 0).then_some(bits / 8)
    }
}

impl KernelBtf {
    /// Offset of `task_struct->thread.fsbase`, if this BTF says (x86_64).
    pub fn task_fsbase_offset(&self) -> Option<u32> {
        self.offset_of("task_struct", &["thread", "fsbase"])
    }

    /// The offsets from the current task to its executable's identity, for
    /// `record --all`: `task_struct.mm`, `mm_struct.exe_file`, `file.f_inode`,
    /// `inode.i_ino`, `inode.i_sb`, `super_block.s_dev`; `None` if the BTF
    /// lacks one.
    pub fn exe_identity_chain(&self) -> Option<[u32; 6]> {
        Some([
            self.offset_of("task_struct", &["mm"])?,
            self.offset_of("mm_struct", &["exe_file"])?,
            self.offset_of("file", &["f_inode"])?,
            self.offset_of("inode", &["i_ino"])?,
            self.offset_of("inode", &["i_sb"])?,
            self.offset_of("super_block", &["s_dev"])?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fsbase_in_the_running_kernel() {
        // Never a silent pass: coldspy reads these offsets from the kernel's
        // BTF, so a kernel without it fails here as coldspy would.
        assert!(
            std::path::Path::new(VMLINUX_BTF).exists(),
            "{VMLINUX_BTF} is missing: the kernel was built without BTF \
             (CONFIG_DEBUG_INFO_BTF), which coldspy needs"
        );
        let btf = KernelBtf::from_sys_fs().unwrap();
        let offset = btf.offset_of("task_struct", &["thread", "fsbase"]);
        assert!(offset.is_some_and(|o| o > 0 && o % 8 == 0), "{offset:?}");
        assert_eq!(btf.offset_of("list_head", &["next"]), Some(0));
        assert_eq!(btf.offset_of("list_head", &["prev"]), Some(8));
        assert_eq!(btf.offset_of("task_struct", &["no_such_field"]), None);
    }

    #[test]
    fn rejects_what_is_not_btf() {
        assert!(KernelBtf::parse(b"\x7fELF").is_none());
    }
}
