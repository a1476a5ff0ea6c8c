// Test fixture base shared by the namespace engine tests: one namespace "ns"
// in a fresh temporary directory, opened through a FaultEnv.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "tests/common/fault_env.h"
#include "tests/zdb/test_util.h"
#include "zdb/format.h"
#include "zdb/namespace.h"

namespace zdb_test {

class NamespaceFixture : public ::testing::Test {
 protected:
  std::string DataDir() { return dir_.path() + "/data/ns"; }
  std::string IndexDir() { return dir_.path() + "/index/ns"; }
  std::string DataFile(uint32_t id) { return DataDir() + "/" + zdb::DataFileName(id); }
  std::string IndexFile(uint32_t id) { return IndexDir() + "/" + zdb::IndexFileName(id); }

  // (Re)opens the namespace with opts_ and settings_.
  void Open() {
    ns_.reset();
    auto r = zdb::Namespace::Open(&env_, "ns", dir_.path() + "/data", dir_.path() + "/index", opts_, &settings_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ns_ = std::move(r.value());
  }

  // The value of k, "NOT_FOUND", or the error as text.
  std::string Get(std::string_view k) {
    std::string v;
    qs::Status s = ns_->Get(k, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return s.ToString();
    return v;
  }

  TempDir dir_;
  qs_test::FaultEnv env_;
  zdb::StorageOptions opts_;
  zdb::NamespaceSettings settings_;
  std::unique_ptr<zdb::Namespace> ns_;
};

}  // namespace zdb_test
