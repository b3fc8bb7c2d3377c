#pragma once
// A connection to the Kubernetes API server, over libcurl: TLS verified against the cluster's CA,
// a bearer token or a client certificate, JSON requests and line-delimited watch streams. One
// ApiClient belongs to one thread (each watch runs on its own); it keeps its connection alive between
// requests. docs/kubernetes.md says why libcurl.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "k8s/cluster_connection.h"

namespace mg::k8s {

struct ApiResponse {
  long status = 0;              // the HTTP status; 0 when the server gave none (transport error)
  std::string body;             // the whole body (for a watch stream that was answered 2xx: empty)
  std::string transport_error;  // why there is no status: "Connection refused", "stopped", ...
  // Retry-After (429, 503): when the server asks to be asked again; 0 when it did not say.
  std::chrono::seconds retry_after{0};

  bool ok() const { return status >= 200 && status < 300; }
  // One line for logs: "HTTP 403 Forbidden: <the Status object's message>" or the transport error.
  std::string describe() const;
};

class ApiClient {
 public:
  // stop, when given, aborts a request in progress within about a second of becoming true.
  explicit ApiClient(ClusterConnection connection, const std::atomic<bool>* stop = nullptr);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  ApiResponse get(const std::string& path, std::chrono::milliseconds timeout);
  // PUT, PATCH, POST, DELETE with a JSON body (content_type: application/json,
  // application/merge-patch+json, ...).
  ApiResponse send(std::string_view method, const std::string& path, const std::string& body,
                   std::string_view content_type, std::chrono::milliseconds timeout);
  // A watch: calls on_open once the server has answered 2xx (a watch of a quiet resource says nothing
  // more for a while), on_line with each line of the answer as it arrives, and returns when the server
  // ends the stream, on a transport error, after idle_timeout without a byte, on stop, or when on_line
  // returns false (transport_error "ended by the reader").
  using LineHandler = std::function<bool(std::string_view line)>;
  using OpenHandler = std::function<void()>;
  ApiResponse stream(const std::string& path, const LineHandler& on_line, std::chrono::milliseconds idle_timeout,
                     const OpenHandler& on_open = {});

  const ClusterConnection& connection() const { return connection_; }

 private:
  struct Transfer;
  ApiResponse perform(std::string_view method, const std::string& path, const std::string* body,
                      std::string_view content_type, std::chrono::milliseconds timeout,
                      const LineHandler* on_line, std::chrono::milliseconds idle_timeout,
                      const OpenHandler* on_open = nullptr);

  ClusterConnection connection_;
  const std::atomic<bool>* stop_;
  void* curl_;  // CURL*, kept for connection reuse
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view value);

}  // namespace mg::k8s
