// A capture in, a capture out, through the real worker loop: net_pcap replays SRTP made by
// Debian's libsrtp2 into the dataplane, which writes the RTP it forwards to another capture.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <rte_bus_vdev.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "../libsrtp_oracle.h"
#include "../packet_builders.h"
#include "dp_harness.h"

namespace srtpgate::dp::testing {
namespace {

using srtp::Profile;

std::vector<Bytes> read_capture(const std::string& path) {
  std::vector<Bytes> frames;
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  EXPECT_NE(p, nullptr) << err;
  if (p == nullptr) return frames;
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  while (pcap_next_ex(p, &h, &d) == 1) frames.emplace_back(d, d + h->caplen);
  pcap_close(p);
  return frames;
}

TEST(DataplanePcap, CaptureInCaptureOutThroughTheWorkerLoop) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("srtpgate-dp-pcap-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string in_path = (dir / "in.pcap").string();
  const std::string out_path = (dir / "out.pcap").string();

  testutil::Rng rng(21);
  const Profile profile = Profile::aes_cm_128_hmac_sha1_80;
  const srtp::MasterKey key = testutil::random_key(rng, profile);
  oracle::OracleConfig oc;
  oc.profile = profile;
  auto lib = oracle::LibsrtpOracle::create(oc, oracle::OracleKey{testutil::key_salt_of(key), {}});
  ASSERT_TRUE(lib) << lib.message();

  // The frames a peer at 198.18.1.1:20000 sends to us at 198.18.0.1:10000; two junk frames too.
  NextHop peer;
  peer.dst_mac = {0x02, 0, 0, 0, 0, 0x10};
  peer.src_addr = ip("198.18.1.1");
  peer.src_port = 20000;
  peer.dst_addr = ip("198.18.0.1");
  peer.dst_port = 10000;
  auto tmpl = detail::build_egress_template(peer, kPeerMac);
  ASSERT_TRUE(tmpl) << tmpl.message();
  std::vector<Bytes> originals;
  {
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* dump = pcap_dump_open(dead, in_path.c_str());
    ASSERT_NE(dump, nullptr);
    const auto write = [&](const Bytes& frame) {
      pcap_pkthdr h{};
      h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
      pcap_dump(reinterpret_cast<u_char*>(dump), &h, frame.data());
    };
    for (uint16_t seq = 100; seq < 400; ++seq) {
      Bytes plain =
          testutil::build_rtp(rng, 0xfeed, seq, seq * 160u, testutil::random_shape(rng, 160));
      Bytes srtp = plain;
      ASSERT_EQ(lib.value()->protect_rtp(srtp), srtp_err_status_ok);
      originals.push_back(plain);
      Bytes frame(tmpl->len + srtp.size());
      std::copy(srtp.begin(), srtp.end(), frame.begin() + tmpl->len);
      detail::write_egress_headers(*tmpl, frame.data() + tmpl->len,
                                   static_cast<uint16_t>(srtp.size()),
                                   detail::UdpChecksum::software);
      write(frame);
      if (seq % 100 == 0) write(Bytes(30, 0xee));  // junk: dropped and counted
    }
    pcap_dump_close(dump);
    pcap_close(dead);
  }

  const std::string vdev = "net_pcap_dptest";
  ASSERT_EQ(rte_vdev_init(vdev.c_str(), ("rx_pcap=" + in_path + ",tx_pcap=" + out_path).c_str()),
            0);
  {
    DataplaneConfig c;
    PortConfig pc;
    pc.name = vdev;
    pc.rss = false;
    c.ports = {pc};
    c.workers = 1;
    c.launch_workers = false;
    c.mbufs = 4095;
    auto dp = Dataplane::create(c);
    ASSERT_TRUE(dp) << dp.message();
    const uint16_t port = dp.value()->port_ids().at(0);
    FlowSpec s;
    s.key = make_flow_key(port, ip("198.18.0.1"), 10000, ip("198.18.1.1"), 20000);
    s.action = Action::unprotect;
    s.inbound = LegKey{profile, key};
    s.next_hop.port_id = port;
    s.next_hop.dst_mac = kNextHopMac;
    s.next_hop.src_addr = ip("198.18.0.1");
    s.next_hop.src_port = 10002;
    s.next_hop.dst_addr = ip("198.18.2.2");
    s.next_hop.dst_port = 30000;
    ASSERT_TRUE(dp.value()->install(s));
    dp.value()->wait_applied();
    for (int idle = 0; idle < 1000;) {  // net_pcap returns nothing once the file is read
      idle = dp.value()->poll_worker(0) == 0 ? idle + 1 : 0;
    }
    const WorkerStats st = dp.value()->total_stats();
    EXPECT_EQ(st.rx_packets, originals.size() + 3);
    EXPECT_EQ(st.tx_packets, originals.size());
    EXPECT_EQ(st.drops[static_cast<std::size_t>(Drop::frame_malformed)] +
                  st.drops[static_cast<std::size_t>(Drop::not_ip)],
              3u);
  }  // closing the port flushes the output capture
  rte_vdev_uninit(vdev.c_str());

  const auto frames = read_capture(out_path);
  ASSERT_EQ(frames.size(), originals.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    detail::ParsedFrame pf;
    detail::classify_frame(frames[i].data(), static_cast<uint32_t>(frames[i].size()), 0,
                           detail::ChecksumHint::unknown, detail::ChecksumHint::unknown, pf);
    ASSERT_EQ(pf.kind, detail::FrameKind::rtp) << i;
    EXPECT_EQ(pf.key.local_port, 30000);
    EXPECT_EQ(Bytes(frames[i].begin() + pf.payload_offset,
                    frames[i].begin() + pf.payload_offset + pf.payload_len),
              originals[i])
        << "frame " << i;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace srtpgate::dp::testing
