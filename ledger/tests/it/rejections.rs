//! rejections tests (to be written).
