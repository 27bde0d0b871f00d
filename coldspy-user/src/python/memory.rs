//! Reading another process's memory with `process_vm_readv` (read-only:
//! coldspy never writes into a target), behind [`ReadMemory`] so that the
//! readers built on it (the symbolizer) can be tested on fabricated bytes.

/// Errors reading target memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The read failed (the address is unmapped, or the process is gone).
    #[error("cannot read {len} bytes at {addr:#x} of process {pid}: {source}")]
    Read {
        /// The process.
        pid: u32,
        /// The address.
        addr: u64,
        /// The length.
        len: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// A memory other than a process (a byte image) has no bytes there.
    #[error("no {len} bytes at {addr:#x} in the memory image")]
    Outside {
        /// The address.
        addr: u64,
        /// The length.
        len: usize,
    },
    /// What was read is not what the field holds (a code object freed and
    /// reused while it was read: a file name with control characters).
    #[error("the object at {addr:#x} changed while it was read")]
    Inconsistent {
        /// The object.
        addr: u64,
    },
}

/// An address space that can be read: a process ([`ProcessMemory`]), or a
/// fabricated byte image in tests. Only [`ReadMemory::read_into`] is
/// required; the typed reads are little-endian, as on every target coldspy
/// supports (x86-64, aarch64).
pub trait ReadMemory {
    /// Reads exactly `buf.len()` bytes at `addr`.
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError>;

    /// Reads `len` bytes at `addr`.
    fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, MemoryError> {
        let mut buf = vec![0u8; len];
        self.read_into(addr, &mut buf)?;
        Ok(buf)
    }

    /// Reads a little-endian `u64`.
    fn read_u64(&self, addr: u64) -> Result<u64, MemoryError> {
        let mut buf = [0u8; 8];
        self.read_into(addr, &mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    /// Reads a little-endian `i32`.
    fn read_i32(&self, addr: u64) -> Result<i32, MemoryError> {
        let mut buf = [0u8; 4];
        self.read_into(addr, &mut buf)?;
        Ok(i32::from_le_bytes(buf))
    }

    /// Reads a little-endian `u32`.
    fn read_u32(&self, addr: u64) -> Result<u32, MemoryError> {
        let mut buf = [0u8; 4];
        self.read_into(addr, &mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }
}

/// A handle on a process's address space.
#[derive(Debug, Clone, Copy)]
pub struct ProcessMemory {
    /// The process.
    pub pid: u32,
}

impl ReadMemory for ProcessMemory {
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, which we own mutably; the kernel
        // checks `remote` against the target's address space.
        let n = unsafe { libc::process_vm_readv(self.pid as i32, &local, 1, &remote, 1, 0) };
        if n < 0 || n as usize != buf.len() {
            let source = if n < 0 {
                std::io::Error::last_os_error()
            } else {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "short read")
            };
            return Err(MemoryError::Read {
                pid: self.pid,
                addr,
                len: buf.len(),
                source,
            });
        }
        Ok(())
    }
}
