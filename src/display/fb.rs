//! Linux framebuffer driver: `/dev/fbN` (SPI TFTs through the kernel's
//! drivers, HDMI, virtio-gpu), or a regular file standing in for one.
//!
//! A device reports its geometry and format through the
//! FBIOGET_VSCREENINFO / FBIOGET_FSCREENINFO ioctls; a regular file takes
//! them from config (`display.width/height/format`), which is how tests run
//! the real process against a file. Frames are written whole with pwrite.
// `unsafe` is allowed here only for the two read-only ioctls: libc has no
// safe wrapper, and the structs passed are plain repr(C) data the kernel fills.
#![allow(unsafe_code)]

use super::DisplayError;
use super::canvas::Canvas;
use super::driver::Panel;
use super::pixfmt::{self, PixelFormat};
use crate::config::DisplayConfig;
use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;

/// `struct fb_var_screeninfo`: 40 u32 fields; the ones read are named below.
#[repr(C)]
struct VarInfo([u32; 40]);
const V_XRES: usize = 0;
const V_YRES: usize = 1;
const V_BPP: usize = 6;
const V_RED_OFFSET: usize = 8;

/// `struct fb_fix_screeninfo`.
#[repr(C)]
#[derive(Default)]
struct FixInfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

/// An open framebuffer.
#[derive(Debug)]
pub struct Framebuffer {
    file: File,
    width: u32,
    height: u32,
    format: PixelFormat,
    stride: usize,
}

fn device_err(path: &Path, reason: impl Into<String>) -> DisplayError {
    DisplayError::Device {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl Framebuffer {
    /// Opens `display.device` for writing and learns its geometry.
    pub fn open(cfg: &DisplayConfig) -> Result<Framebuffer, DisplayError> {
        let path = &cfg.device;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| device_err(path, format!("cannot open for writing: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| device_err(path, e.to_string()))?;
        if meta.file_type().is_char_device() {
            return Self::from_device(file, path, cfg);
        }
        if !meta.is_file() {
            return Err(device_err(
                path,
                "neither a framebuffer device nor a regular file",
            ));
        }
        let format = cfg.format.ok_or_else(|| {
            device_err(
                path,
                "a framebuffer file needs display.format (rgb565 or xrgb8888)",
            )
        })?;
        if cfg.width == 0 {
            return Err(device_err(
                path,
                "a framebuffer file needs display.width and display.height",
            ));
        }
        let stride = (cfg.width * format.bits() / 8) as usize;
        let need = (stride * cfg.height as usize) as u64;
        if meta.len() < need {
            file.set_len(need)
                .map_err(|e| device_err(path, e.to_string()))?;
        }
        Ok(Framebuffer {
            file,
            width: cfg.width,
            height: cfg.height,
            format,
            stride,
        })
    }

    fn from_device(
        file: File,
        path: &Path,
        cfg: &DisplayConfig,
    ) -> Result<Framebuffer, DisplayError> {
        use std::os::fd::AsRawFd;
        let mut var = VarInfo([0; 40]);
        let mut fix = FixInfo::default();
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is an open framebuffer; both structs are repr(C) with the
        // kernel's layout and live for the call; the kernel only writes into them.
        let (a, b) = unsafe {
            (
                libc::ioctl(fd, FBIOGET_VSCREENINFO as _, &mut var as *mut VarInfo),
                libc::ioctl(fd, FBIOGET_FSCREENINFO as _, &mut fix as *mut FixInfo),
            )
        };
        if a < 0 || b < 0 {
            return Err(device_err(
                path,
                format!("not a framebuffer: {}", std::io::Error::last_os_error()),
            ));
        }
        let v = &var.0;
        let format = match (v[V_BPP], v[V_RED_OFFSET]) {
            (16, 11) => PixelFormat::Rgb565,
            (32, 16) => PixelFormat::Xrgb8888,
            (bpp, red) => {
                return Err(device_err(
                    path,
                    format!("unsupported pixel format: {bpp} bits, red at bit {red}"),
                ));
            }
        };
        if let Some(want) = cfg.format
            && want != format
        {
            return Err(device_err(
                path,
                format!(
                    "the device is {}, config says {}",
                    format.name(),
                    want.name()
                ),
            ));
        }
        let (width, height) = (v[V_XRES], v[V_YRES]);
        if width == 0 || height == 0 {
            return Err(device_err(path, "the device reports no resolution"));
        }
        Ok(Framebuffer {
            file,
            width,
            height,
            format,
            stride: fix.line_length as usize,
        })
    }

    /// The format frames are written in.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
}

impl Panel for Framebuffer {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        let bytes = pixfmt::encode(frame, self.format, self.stride);
        self.file
            .write_all_at(&bytes, 0)
            .map_err(|e| DisplayError::Draw(format!("framebuffer write: {e}")))
    }
}
