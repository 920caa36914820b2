"""Flash and RAM bytes and symbol addresses of a linked ELF image, read from its headers in Python.

Memory use follows the convention of GNU ``size`` (Berkeley format):
flash = every allocated section with contents (.text, .rodata, .ARM.exidx, and
the initial image of .data), RAM = every allocated writable section (.data,
.bss, .noinit). Sections that only reserve the stack (name ``.stack_reserve``)
or the heap (``.heap``) are reported separately and left out of RAM.
"""
import dataclasses
import struct

from kanc.errors import ToolchainError

SHT_NOBITS = 8
SHT_SYMTAB = 2
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
RESERVE_SECTIONS = (".stack_reserve", ".heap")


@dataclasses.dataclass
class Section:
    name: str
    type: int
    flags: int
    address: int
    offset: int
    size: int
    link: int
    entry_size: int


@dataclasses.dataclass
class MemoryUse:
    """Static memory of an image in bytes; ``sections`` maps each counted section name to its size."""

    flash_bytes: int
    ram_bytes: int
    reserved_bytes: int
    sections: dict


def read_sections(path):
    """Return the list of Section headers of the ELF file at ``path`` (32- or 64-bit, little-endian)."""
    data = _read(path)
    is_64 = data[4] == 2
    if is_64:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        layout = "<IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
        layout = "<IIIIIIIIII"

    raw = []
    for index in range(shnum):
        fields = struct.unpack_from(layout, data, shoff + index * shentsize)
        name_offset, kind, flags, address, offset, size, link, _info, _align, entry_size = fields
        raw.append((name_offset, kind, flags, address, offset, size, link, entry_size))

    names_offset = raw[shstrndx][4]
    return [Section(_c_string(data, names_offset + item[0]), *item[1:]) for item in raw]


def memory_use(path):
    """Return the MemoryUse of the linked image at ``path``."""
    flash = ram = reserved = 0
    counted = {}
    for section in read_sections(path):
        if not section.flags & SHF_ALLOC or section.size == 0:
            continue
        if section.name in RESERVE_SECTIONS:
            reserved += section.size
            continue
        counted[section.name] = section.size
        if section.type != SHT_NOBITS:
            flash += section.size
        if section.flags & SHF_WRITE:
            ram += section.size
    return MemoryUse(flash, ram, reserved, counted)


def symbol_addresses(path, names):
    """Return {name: address} for the requested symbols of the ELF file at ``path``.

    Raises ToolchainError naming the symbols that the symbol table lacks.
    """
    data = _read(path)
    is_64 = data[4] == 2
    sections = read_sections(path)
    wanted = set(names)
    found = {}
    for section in sections:
        if section.type != SHT_SYMTAB:
            continue
        strings = sections[section.link]
        for start in range(section.offset, section.offset + section.size, section.entry_size):
            if is_64:
                name_offset, = struct.unpack_from("<I", data, start)
                value, = struct.unpack_from("<Q", data, start + 8)
            else:
                name_offset, value = struct.unpack_from("<II", data, start)
            name = _c_string(data, strings.offset + name_offset)
            if name in wanted:
                found[name] = value
    missing = sorted(wanted - set(found))
    if missing:
        raise ToolchainError(f"{path}: symbols {', '.join(missing)} not found in the ELF symbol table; "
                             "the image was linked without them or stripped")
    return found


def _read(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ToolchainError(f"cannot read ELF file {path}: {exc}") from None
    if data[:4] != b"\x7fELF" or data[5] != 1:
        raise ToolchainError(f"{path} is not a little-endian ELF file")
    return data


def _c_string(data, offset):
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", errors="replace")
