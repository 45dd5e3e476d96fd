#pragma once
/// Blocks reading `fd` (two frames deep in this library).
void damaged_block(int fd);
