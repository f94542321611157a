//! The drivers behind one trait, chosen by `display.driver`.

use super::DisplayError;
use super::canvas::Canvas;
use crate::config::{DisplayConfig, Driver};

/// A panel a frame can be drawn on.
pub trait Panel: Send {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Whether the panel is 1-bit (draws with the mono theme).
    fn mono(&self) -> bool {
        false
    }
    /// Whether the panel is a terminal (draws text, not pixels).
    fn is_term(&self) -> bool {
        false
    }
    /// Writes a whole frame.
    fn draw(&mut self, frame: &Canvas) -> Result<(), DisplayError>;
}

/// Opens the configured panel; a missing or wrong device is a [`DisplayError::Device`].
pub fn open(cfg: &DisplayConfig) -> Result<Box<dyn Panel>, DisplayError> {
    Ok(match cfg.driver {
        Driver::Fb => Box::new(super::fb::Framebuffer::open(cfg)?),
        Driver::Ssd1306 => Box::new(super::ssd1306::Ssd1306::open(cfg)?),
        Driver::Png => Box::new(PngFile {
            path: cfg.device.clone(),
            size: (cfg.width, cfg.height),
        }),
        Driver::Term => Box::new(TermPanel),
    })
}

/// The PNG driver: rewrites a file atomically on every frame.
#[derive(Debug)]
pub struct PngFile {
    path: std::path::PathBuf,
    size: (u32, u32),
}

impl Panel for PngFile {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        let bytes = super::png::encode(frame).map_err(DisplayError::Draw)?;
        let tmp = self.path.with_extension("png.tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| DisplayError::Device {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })
    }
}

/// The terminal driver: the run loop prints [`super::term::render`] instead of pixels.
#[derive(Debug)]
pub struct TermPanel;

impl Panel for TermPanel {
    fn size(&self) -> (u32, u32) {
        (320, 240)
    }

    fn is_term(&self) -> bool {
        true
    }

    fn draw(&mut self, _frame: &Canvas) -> Result<(), DisplayError> {
        Ok(())
    }
}
