"""hpack_decode.py against the examples of RFC 7541 Appendix C: requests without and with Huffman coding
(C.3, C.4), and responses that evict from a 256-byte dynamic table (C.5, C.6)."""

import unittest

from hpack_decode import Decoder, HpackError


class HpackDecode(unittest.TestCase):
    def test_c3_requests_without_huffman(self):
        d = Decoder()
        self.assertEqual(d.decode(bytes.fromhex("828684410f7777772e6578616d706c652e636f6d")),
                         [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")])
        self.assertEqual(d.decode(bytes.fromhex("828684be58086e6f2d6361636865")),
                         [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"),
                          ("cache-control", "no-cache")])

    def test_c4_requests_with_huffman(self):
        d = Decoder()
        self.assertEqual(d.decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")),
                         [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")])
        self.assertEqual(d.decode(bytes.fromhex("828684be5886a8eb10649cbf"))[-1], ("cache-control", "no-cache"))
        self.assertEqual(d.decode(bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")),
                         [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
                          (":authority", "www.example.com"), ("custom-key", "custom-value")])

    def test_c6_responses_with_huffman_and_eviction(self):
        d = Decoder(256)
        first = d.decode(bytes.fromhex("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff"
                                       "6e919d29ad171863c78f0b97c8e9ae82ae43d3"))
        self.assertEqual(first, [(":status", "302"), ("cache-control", "private"),
                                 ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")])
        second = d.decode(bytes.fromhex("4883640effc1c0bf"))
        self.assertEqual(second[0], (":status", "307"))
        self.assertEqual(second[1:], first[1:])  # from the dynamic table
        self.assertEqual(len(d.dynamic), 4)

    def test_bad_input_is_an_error_not_a_crash(self):
        with self.assertRaises(HpackError):
            Decoder().decode(bytes([0x80 | 70]))  # index past both tables
        with self.assertRaises(HpackError):
            Decoder().decode(bytes.fromhex("0085ffffffffff"))  # a literal whose Huffman string is all padding/EOS


if __name__ == "__main__":
    unittest.main(verbosity=2)
