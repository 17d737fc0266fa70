// Text that holds a secret on the control path: SDES key-params, a private key's PEM, and the
// text of a request or configuration that may carry them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "srtpgate/secret.h"

namespace srtpgate::app {

// Text whose memory is wiped (secure_zero) before it is freed or reused: when it is destroyed
// or assigned to, by clear() and erase_front(), and when append(), reserve() or resize() move it
// to a larger block. A std::string cannot promise that: growing frees the old block as it is,
// erase() leaves the bytes past the new end in place, and a short string lives inside the object
// itself. Never printed: it has no stream operator on purpose.
class SecretString {
 public:
  SecretString() noexcept = default;
  // Implicit, so that SdesLeg{profile, "inline:..."} reads as with a string. The source is the
  // caller's to wipe.
  SecretString(std::string_view text) { append(text); }  // NOLINT(google-explicit-constructor)
  SecretString(const char* text)                         // NOLINT(google-explicit-constructor)
      : SecretString(std::string_view(text)) {}
  SecretString(const SecretString& other) : SecretString(other.view()) {}
  SecretString(SecretString&& other) noexcept
      : data_(std::move(other.data_)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      clear();
      append(other.view());
    }
    return *this;
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::move(other.data_);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~SecretString() { release(); }

  std::string_view view() const noexcept { return {data_.get(), size_}; }
  const char* data() const noexcept { return data_.get(); }
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Adds `text` (which may be part of this string) at the end; a full block is replaced by one
  // twice as large.
  void append(std::string_view text) {
    if (text.size() > capacity_ - size_) {
      move_to(std::max({capacity_ * 2, size_ + text.size(), kMinCapacity}), text);
    } else if (!text.empty()) {
      std::memcpy(data_.get() + size_, text.data(), text.size());
      size_ += text.size();
    }
  }
  // Makes room for `n` bytes in all, so that appending up to that moves nothing.
  void reserve(std::size_t n) {
    if (n > capacity_) {
      move_to(n, {});
    }
  }
  // Bytes added are zero; bytes cut off are wiped. Grows to exactly `n`.
  void resize(std::size_t n) {
    reserve(n);
    if (n > size_) {
      std::memset(data_.get() + size_, 0, n - size_);
    } else if (n < size_) {
      secure_zero(data_.get() + n, size_ - n);
    }
    size_ = n;
  }
  // Drops the first `n` bytes (all, if there are fewer); the rest moves to the front and the
  // bytes it leaves behind are wiped.
  void erase_front(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n == 0) {
      return;
    }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    secure_zero(data_.get() + size_ - n, n);
    size_ -= n;
  }
  // Wipes the text and keeps the block for reuse.
  void clear() noexcept {
    if (size_ != 0) {
      secure_zero(data_.get(), size_);
    }
    size_ = 0;
  }

 private:
  static constexpr std::size_t kMinCapacity = 64;

  // Copies the text, then `extra`, into a new block of `capacity` bytes; wipes and frees the old.
  void move_to(std::size_t capacity, std::string_view extra) {
    std::unique_ptr<char[]> block(new char[capacity]);
    if (size_ != 0) {
      std::memcpy(block.get(), data_.get(), size_);
    }
    if (!extra.empty()) {
      std::memcpy(block.get() + size_, extra.data(), extra.size());
    }
    const std::size_t size = size_ + extra.size();
    release();
    data_ = std::move(block);
    size_ = size;
    capacity_ = capacity;
  }
  void release() noexcept {
    if (data_) {
      secure_zero(data_.get(), capacity_);
      data_.reset();
    }
    size_ = 0;
    capacity_ = 0;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace srtpgate::app
