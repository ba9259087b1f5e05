// tandem-peer-probe: speaks the replication protocol to a node as whatever certificate it is
// given, so the e2e tests can play a rogue holder of a certificate from the pair's CA (or a lying
// peer) and check what the node refuses. Prints the gRPC status code name and exits 0 when the
// call got an answer (OK or a refusal), 2 on bad usage.
//
//   tandem-peer-probe --target IP:PORT --ca F --cert F --key F --call hello|follow|handover
//                     [--node-id ID] [--role active|standby] [--epoch N] [--ack N]
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "proto/replication.grpc.pb.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    default:
      return "OTHER";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt{{"--node-id", "node-b"}, {"--role", "active"},
                                         {"--epoch", "1"}, {"--ack", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  for (const char* k : {"--target", "--ca", "--cert", "--key", "--call"}) {
    if (!opt.count(k)) {
      std::cerr << "tandem-peer-probe: " << k << " is required\n";
      return 2;
    }
  }
  grpc::SslCredentialsOptions creds;
  creds.pem_root_certs = slurp(opt["--ca"]);
  creds.pem_cert_chain = slurp(opt["--cert"]);
  creds.pem_private_key = slurp(opt["--key"]);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  auto channel = grpc::CreateCustomChannel(opt["--target"], grpc::SslCredentials(creds), args);
  auto stub = tandem::proto::Replication::NewStub(channel);

  tandem::proto::NodeInfo me;
  me.set_node_id(opt["--node-id"]);
  me.set_role(opt["--role"] == "active" ? tandem::proto::ROLE_ACTIVE : tandem::proto::ROLE_STANDBY);
  me.set_epoch(std::stoull(opt["--epoch"]));
  me.set_priority(100);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status st;
  std::string detail;
  const std::string call = opt["--call"];
  if (call == "hello") {
    tandem::proto::HelloRequest req;
    *req.mutable_from() = me;
    tandem::proto::HelloReply reply;
    st = stub->Hello(&ctx, req, &reply);
    if (st.ok()) detail = " node=" + reply.node().node_id() + " epoch=" + std::to_string(reply.node().epoch());
  } else if (call == "handover") {
    tandem::proto::HelloRequest req;
    *req.mutable_from() = me;
    tandem::proto::HandoverReply reply;
    st = stub->Handover(&ctx, req, &reply);
  } else if (call == "follow") {
    auto stream = stub->Follow(&ctx);
    tandem::proto::FollowerMessage start;
    *start.mutable_start() = me;
    stream->Write(start);
    if (opt["--ack"] != "0") {
      tandem::proto::FollowerMessage ack;
      ack.set_ack(std::stoull(opt["--ack"]));
      stream->Write(ack);
    }
    tandem::proto::LeaderMessage msg;
    int messages = 0;
    while (messages < 3 && stream->Read(&msg)) ++messages;  // what a follower would receive
    if (messages == 3) ctx.TryCancel();  // accepted: we have seen enough
    st = stream->Finish();
    detail = " received=" + std::to_string(messages);
  } else {
    std::cerr << "tandem-peer-probe: --call hello|follow|handover\n";
    return 2;
  }
  std::cout << code_name(st.error_code()) << detail << "\n";
  return 0;
}
